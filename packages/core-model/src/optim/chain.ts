/**
 * The update chain big_vision's `optax.make` builds around any gradient transformation, shared by Adafactor and
 * AdamW:
 *
 *   [clip_by_global_norm] → direction u_t (the optimizer proper) → ×lr → ×lr_mult(name) → + wd·wd_mult(name)·θ
 *   → ×schedule(t) → ×(−1),   i.e.  θ ← θ − s·lr·mult·u_t − s·wd·wd_mult·θ,  s = schedule(t)
 *
 * Weight decay is decoupled and NOT multiplied by lr (only by the schedule). `t` counts applied updates from 0, as
 * optax's `scale_by_schedule` count. Performance (a GPU step is bound by kernel launches, see docs/runtime.md): every
 * per-step scalar is one tensor made once per step and shared by all variables, each variable's whole update runs in
 * one `tf.tidy`, and nothing is read back to the host. Parameters whose update is purely elementwise (all of
 * AdamW's; Adafactor's unfactored ones: biases, norms, small matrices) can be updated together as one flat buffer —
 * one concat of their gradients and one of their values, the math once, one split — instead of a dozen kernels
 * each (where a subclass has a `groupStep`, AdamW on wasm, one kernel does it all without the concats and the split);
 * the flat state is split back into per-parameter names for `getState`, so checkpoints do not depend on the
 * grouping. That pays where kernel launches dominate (webgpu/webgl) and on wasm once its Slice copies only the piece
 * (backend/wasm-kernels.ts; before, it copied the whole flat buffer out of the heap for every piece and fusing was
 * 1.3–10× slower), and on cpu too.
 * optim.bench.ts (192 variables, 0.6 M parameters), per-variable → fused: wasm AdamW 40 → 10 ms per step, Adafactor
 * 50 → 16 ms; cpu AdamW 812 → 491 ms, Adafactor 1,934 → 1,743 ms. So it is on by default on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedWasm, wasmFused } from '../backend/wasm-fused';
import type { Params } from '../model/policy';
import { scheduleMultiplier, type Schedule } from '../schedules';
import { globalNormClipFactor } from './clip';
import { planParams, type ParamPlan, type PatternMults } from './lr-mults';
import type { Optimizer } from './optimizer';

export interface ChainConfig {
  /** Base learning rate. */
  readonly lr: number;
  /** Decoupled weight decay (not scaled by lr); 0 = off. */
  readonly wd?: number;
  /** Learning-rate multipliers by name (default 1; 0 freezes). */
  readonly lrMults?: PatternMults;
  /** Weight-decay multipliers by name (default: names ending in `/kernel` ×1, others ×0). */
  readonly wdMults?: PatternMults;
  /** Clip gradients to this global L2 norm first (over non-frozen parameters); unset = off. */
  readonly gradClipNorm?: number;
  /** Multiplies the whole update; default constant 1 without warmup. */
  readonly schedule?: Schedule;
  /** Update elementwise parameters as one flat buffer (default: yes). */
  readonly fuseElementwise?: boolean;
}

type OptState = Parameters<Optimizer['setState']>[0];

/** Owner name of the fused group's slots (not a valid parameter name, so it cannot collide). */
const FLAT = '\u0000elementwise';

interface Member {
  readonly name: string;
  readonly shape: number[];
  readonly size: number;
}

interface Group {
  readonly members: Member[];
  readonly slotNames: string[];
  /** The group's lr and wd multipliers: one number when all members share it, else one per element [total]. */
  readonly lrMult: number | tf.Tensor1D;
  readonly wdMult: number | tf.Tensor1D;
}

export abstract class ChainedOptimizer<S> implements Optimizer {
  private t = 0;
  private readonly plan: Map<string, ParamPlan>;
  private readonly slots = new Map<string, tf.Tensor>();
  private readonly cfg: ChainConfig;
  /** Every state tensor's public name (`<param>/<slot>`) and shape, in parameter order. */
  private readonly expected = new Map<string, number[]>();
  private group: Group | null = null;
  private readonly grouped = new Set<string>();
  /** Per-parameter views of the fused state handed out by getState, until the next change. */
  private stateView: { all: Map<string, tf.Tensor>; owned: tf.Tensor[] } | null = null;

  protected constructor(params: Params, cfg: ChainConfig) {
    if (!(cfg.lr >= 0)) throw new RangeError(`lr must be ≥ 0, got ${cfg.lr}`);
    this.cfg = cfg;
    this.plan = planParams(params.keys(), cfg.lrMults, cfg.wdMults);
  }

  /** Creates the zero state of every non-frozen parameter (called by subclass constructors, as optax `init`). */
  protected initSlots(params: Params): void {
    const members: Member[] = [];
    const fuse = this.cfg.fuseElementwise ?? true;
    for (const [name, p] of params) {
      if (this.plan.get(name)?.frozen) continue;
      const slotShapes = this.slotShapes(p.shape);
      for (const [slot, shape] of slotShapes) this.expected.set(`${name}/${slot}`, shape);
      if (fuse && this.elementwise(p.shape)) {
        members.push({ name, shape: [...p.shape], size: p.size });
        this.grouped.add(name);
      } else {
        for (const [slot, shape] of slotShapes) this.slots.set(`${name}/${slot}`, tf.zeros(shape));
      }
    }
    if (members.length === 0) return;
    const total = members.reduce((a, m) => a + m.size, 0);
    const slotNames = this.slotShapes([total]).map(([slot]) => slot);
    for (const slot of slotNames) this.slots.set(`${FLAT}/${slot}`, tf.zeros([total]));
    const perElement = (mult: (p: ParamPlan) => number): number | tf.Tensor1D => {
      const values = members.map((m) => mult(this.plan.get(m.name) as ParamPlan));
      if (values.every((v) => v === values[0])) return values[0];
      const out = new Float32Array(total);
      let at = 0;
      members.forEach((m, i) => out.fill(values[i], at, (at += m.size)));
      return tf.tensor1d(out);
    };
    this.group = { members, slotNames, lrMult: perElement((p) => p.lrMult), wdMult: perElement((p) => p.wdMult) };
  }

  /** State tensors this optimizer keeps for a parameter of `shape`, by slot name. */
  protected abstract slotShapes(shape: readonly number[]): Array<[string, number[]]>;

  /** Whether a parameter of `shape` has a purely elementwise update with slots of its own shape (fusable). */
  protected abstract elementwise(shape: readonly number[]): boolean;

  /** The scalars shared by every variable at step `t` (created inside the step's tidy). */
  protected abstract stepScalars(t: number): S;

  /**
   * The direction u_t for one parameter (or, for the fused group, one flat [total] buffer); reads its slots with
   * `slot` and replaces them with `setSlot`.
   */
  protected abstract direction(name: string, g: tf.Tensor, k: S): tf.Tensor;

  /**
   * Whether `groupStep` can run the flat group's step here (AdamW on wasm). The chain then uses it when every member
   * has a gradient, nothing is clipped and the group shares one lr multiplier.
   */
  protected hasGroupStep(): boolean {
    return false;
  }

  /**
   * The flat group's whole step without the flat gradient and value buffers: the group's slots (in `slotShapes`
   * order), each member's gradient and value, the step's scalars, the scaled lr and wd (null, a scalar or one value
   * per element) → the new slots and one new value per member, the generic path's values.
   */
  protected groupStep(
    _slots: tf.Tensor[],
    _grads: tf.Tensor[],
    _values: tf.Tensor[],
    _k: S,
    _lr: tf.Scalar,
    _wd: tf.Tensor | null,
  ): { slots: tf.Tensor[]; values: tf.Tensor[] } {
    throw new Error('this optimizer has no group step');
  }

  protected slot(name: string, slot: string): tf.Tensor {
    const s = this.slots.get(`${name}/${slot}`);
    if (s === undefined) throw new Error(`optimizer has no state ${name}/${slot}`);
    return s;
  }

  /** Replaces a slot with `value`, keeping it past the enclosing tidy. */
  protected setSlot(name: string, slot: string, value: tf.Tensor): void {
    const key = `${name}/${slot}`;
    this.slots.get(key)?.dispose();
    this.slots.set(key, tf.keep(value));
  }

  get step(): number {
    return this.t;
  }

  isFrozen(name: string): boolean {
    return this.plan.get(name)?.frozen ?? false;
  }

  apply(params: Params, grads: ReadonlyMap<string, tf.Tensor>): void {
    this.dropStateView();
    const live: Array<[string, tf.Variable, tf.Tensor, ParamPlan]> = [];
    const groupGrads = new Map<string, tf.Tensor>();
    for (const [name, g] of grads) {
      const p = params.get(name);
      const plan = this.plan.get(name);
      if (p === undefined || plan === undefined) throw new Error(`gradient for unknown parameter ${name}`);
      if (plan.frozen) continue;
      if (this.grouped.has(name)) groupGrads.set(name, g);
      else live.push([name, p, g, plan]);
    }
    const s = scheduleMultiplier(this.cfg.schedule ?? { kind: 'constant' }, this.t);
    const { lr, wd = 0, gradClipNorm } = this.cfg;
    const group = this.group;
    const groupStep =
      group !== null &&
      groupGrads.size === group.members.length &&
      gradClipNorm === undefined &&
      typeof group.lrMult === 'number' &&
      this.hasGroupStep();
    const scaled = (mult: number | tf.Tensor1D, by: number): tf.Tensor =>
      typeof mult === 'number' ? tf.scalar(by * mult) : tf.mul(mult, tf.scalar(by));
    tf.tidy(() => {
      // [total] gradients of the fused group, zeros standing in for missing ones (masked out below).
      const flatG =
        group === null || groupGrads.size === 0 || groupStep
          ? null
          : tf.concat(group.members.map((m) => flat(groupGrads.get(m.name) ?? tf.zeros(m.shape))));
      const clip =
        gradClipNorm === undefined
          ? null
          : globalNormClipFactor([...live.map((l) => l[2]), ...(flatG === null ? [] : [flatG])], gradClipNorm);
      const k = this.stepScalars(this.t);
      // Made here, outside the per-variable tidies, so that they live through the whole step.
      const lrScale = scalarsFor(
        live.map((l) => l[3].lrMult),
        (m) => s * lr * m,
      );
      const wdScale = scalarsFor(
        live.map((l) => l[3].wdMult),
        (m) => s * wd * m,
      );
      for (const [name, p, g0, plan] of live) {
        tf.tidy(() => {
          const g = clip === null ? g0 : tf.mul(g0, clip);
          const u = this.direction(name, g, k);
          p.assign(stepped(p, u, lrScale(plan.lrMult), wd !== 0 && plan.wdMult !== 0 ? wdScale(plan.wdMult) : null));
        });
      }
      if (group !== null && groupStep) {
        tf.tidy(() => {
          const r = this.groupStep(
            group.slotNames.map((sl) => this.slot(FLAT, sl)),
            group.members.map((m) => groupGrads.get(m.name) as tf.Tensor),
            group.members.map((m) => params.get(m.name) as tf.Variable),
            k,
            scaled(group.lrMult, s * lr) as tf.Scalar,
            wd !== 0 && group.wdMult !== 0 ? scaled(group.wdMult, s * wd) : null,
          );
          group.slotNames.forEach((sl, i) => this.setSlot(FLAT, sl, r.slots[i]));
          group.members.forEach((m, i) => (params.get(m.name) as tf.Variable).assign(r.values[i]));
        });
      } else if (group !== null && flatG !== null) {
        tf.tidy(() => {
          const g = clip === null ? flatG : tf.mul(flatG, clip);
          const complete = groupGrads.size === group.members.length;
          // Clones share the data, so they outlive the slots that `direction` replaces.
          const before = complete ? null : group.slotNames.map((sl) => tf.clone(this.slot(FLAT, sl)));
          const u = this.direction(FLAT, g, k);
          const theta = tf.concat(group.members.map((m) => flat(params.get(m.name) as tf.Variable))); // [total]
          const wdScaled = wd !== 0 && group.wdMult !== 0 ? scaled(group.wdMult, s * wd) : null;
          const next = tf.split(
            stepped(theta, u, scaled(group.lrMult, s * lr), wdScaled),
            group.members.map((m) => m.size),
          );
          group.members.forEach((m, i) => {
            if (groupGrads.has(m.name)) (params.get(m.name) as tf.Variable).assign(unflat(next[i], m.shape));
          });
          if (before !== null) {
            // Parameters without a gradient keep their state, as if they had not been in the group.
            const mask = tf.tensor1d(
              group.members.flatMap((m) => new Array<number>(m.size).fill(groupGrads.has(m.name) ? 1 : 0)),
              'bool',
            );
            group.slotNames.forEach((sl, i) => this.setSlot(FLAT, sl, tf.where(mask, this.slot(FLAT, sl), before[i])));
          }
        });
      }
    });
    this.t++;
  }

  /** State by `<param>/<slot>`; the tensors stay valid until the next apply, setState or dispose. */
  getState(): OptState {
    if (this.stateView === null) {
      const owned: tf.Tensor[] = [];
      const fused = new Map<string, tf.Tensor>();
      const group = this.group;
      if (group !== null) {
        for (const sl of group.slotNames) {
          const pieces = tf.tidy(() =>
            tf
              .split(
                this.slot(FLAT, sl),
                group.members.map((m) => m.size),
              )
              .map((piece, i) => unflat(piece, group.members[i].shape)),
          );
          pieces.forEach((t, i) => fused.set(`${group.members[i].name}/${sl}`, t));
          owned.push(...pieces);
        }
      }
      const all = new Map<string, tf.Tensor>();
      for (const key of this.expected.keys()) all.set(key, fused.get(key) ?? (this.slots.get(key) as tf.Tensor));
      this.stateView = { all, owned };
    }
    return { step: this.t, tensors: new Map(this.stateView.all) };
  }

  setState(state: OptState): void {
    const missing = [...this.expected.keys()].filter((k) => !state.tensors.has(k));
    const extra = [...state.tensors.keys()].filter((k) => !this.expected.has(k));
    if (missing.length > 0 || extra.length > 0) {
      throw new Error(`optimizer state mismatch: missing [${missing.join(', ')}], unexpected [${extra.join(', ')}]`);
    }
    for (const [key, t] of state.tensors) {
      const shape = this.expected.get(key) as number[];
      if (!tf.util.arraysEqual(shape, t.shape) || t.dtype !== 'float32') {
        throw new Error(`optimizer state ${key}: ${t.dtype} [${t.shape}] given, float32 [${shape}] expected`);
      }
    }
    this.dropStateView();
    for (const [key, t] of state.tensors) {
      if (!this.slots.has(key)) continue; // a fused member's slot: concatenated below
      this.slots.get(key)?.dispose();
      this.slots.set(key, tf.keep(t.clone()));
    }
    const group = this.group;
    if (group !== null) {
      for (const sl of group.slotNames) {
        tf.tidy(() =>
          this.setSlot(
            FLAT,
            sl,
            tf.concat(group.members.map((m) => flat(state.tensors.get(`${m.name}/${sl}`) as tf.Tensor))),
          ),
        );
      }
    }
    this.t = state.step;
  }

  dispose(): void {
    this.dropStateView();
    for (const t of this.slots.values()) t.dispose();
    this.slots.clear();
    if (this.group !== null) {
      for (const m of [this.group.lrMult, this.group.wdMult]) if (typeof m !== 'number') m.dispose();
      this.group = null;
    }
  }

  private dropStateView(): void {
    if (this.stateView !== null) tf.dispose(this.stateView.owned);
    this.stateView = null;
  }
}

/**
 * θ − (u·lr + θ·wd) (without the θ·wd term when wd is null), lr and wd a scalar or one value per element: one pass
 * on wasm when lr is a scalar (wasm-fused.ts, the same values bit for bit), else two to four tfjs kernels.
 */
function stepped(theta: tf.Tensor, u: tf.Tensor, lr: tf.Tensor, wd: tf.Tensor | null): tf.Tensor {
  if (lr.rank === 0 && fusedWasm()) return wasmFused.step(theta, u, lr, wd ?? undefined);
  let delta = tf.mul(u, lr);
  if (wd !== null) delta = tf.add(delta, tf.mul(theta, wd));
  return tf.sub(theta, delta);
}

// Vectors (most fused parameters: biases, norm scales) need no reshape kernel.
const flat = (t: tf.Tensor): tf.Tensor => (t.rank === 1 ? t : tf.reshape(t, [-1]));
const unflat = (t: tf.Tensor, shape: number[]): tf.Tensor => (shape.length === 1 ? t : tf.reshape(t, shape));

/** One scalar tensor per distinct multiplier value. */
function scalarsFor(mults: number[], value: (mult: number) => number): (mult: number) => tf.Scalar {
  const cache = new Map<number, tf.Scalar>();
  for (const m of mults) if (!cache.has(m)) cache.set(m, tf.scalar(value(m)));
  return (m) => cache.get(m) as tf.Scalar;
}
