/**
 * The update chain big_vision's `optax.make` builds around any gradient transformation, shared by Adafactor and
 * AdamW:
 *
 *   [clip_by_global_norm] → direction u_t (the optimizer proper) → ×lr → ×lr_mult(name) → + wd·wd_mult(name)·θ
 *   → ×schedule(t) → ×(−1),   i.e.  θ ← θ − s·lr·mult·u_t − s·wd·wd_mult·θ,  s = schedule(t)
 *
 * Weight decay is decoupled and NOT multiplied by lr (only by the schedule). `t` counts applied updates from 0, as
 * optax's `scale_by_schedule` count. Performance (runtime.md §3b): every per-step scalar is one tensor made once
 * per step and shared by all variables, each variable's whole update runs in one `tf.tidy`, and nothing is read back
 * to the host.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Params } from '../policy';
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
}

type OptState = Parameters<Optimizer['setState']>[0];

export abstract class ChainedOptimizer<S> implements Optimizer {
  private t = 0;
  private readonly plan: Map<string, ParamPlan>;
  private readonly slots = new Map<string, tf.Tensor>();
  private readonly cfg: ChainConfig;

  protected constructor(params: Params, cfg: ChainConfig) {
    if (!(cfg.lr >= 0)) throw new RangeError(`lr must be ≥ 0, got ${cfg.lr}`);
    this.cfg = cfg;
    this.plan = planParams(params.keys(), cfg.lrMults, cfg.wdMults);
  }

  /** Creates the zero state of every non-frozen parameter (called by subclass constructors, as optax `init`). */
  protected initSlots(params: Params): void {
    for (const [name, p] of params) {
      if (this.plan.get(name)?.frozen) continue;
      for (const [slot, shape] of this.slotShapes(p.shape)) this.slots.set(`${name}/${slot}`, tf.zeros(shape));
    }
  }

  /** State tensors this optimizer keeps for a parameter of `shape`, by slot name. */
  protected abstract slotShapes(shape: readonly number[]): Array<[string, number[]]>;

  /** The scalars shared by every variable at step `t` (created inside the step's tidy). */
  protected abstract stepScalars(t: number): S;

  /** The direction u_t for one parameter; reads its slots with `slot` and replaces them with `setSlot`. */
  protected abstract direction(name: string, g: tf.Tensor, k: S): tf.Tensor;

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

  apply(params: Params, grads: ReadonlyMap<string, tf.Tensor>): void {
    const live: Array<[string, tf.Variable, tf.Tensor, ParamPlan]> = [];
    for (const [name, g] of grads) {
      const p = params.get(name);
      const plan = this.plan.get(name);
      if (p === undefined || plan === undefined) throw new Error(`gradient for unknown parameter ${name}`);
      if (!plan.frozen) live.push([name, p, g, plan]);
    }
    const s = scheduleMultiplier(this.cfg.schedule ?? { kind: 'constant' }, this.t);
    const { lr, wd = 0, gradClipNorm } = this.cfg;
    tf.tidy(() => {
      const clip = gradClipNorm === undefined ? null : globalNormClipFactor(live.map((l) => l[2]), gradClipNorm);
      const k = this.stepScalars(this.t);
      // Made here, outside the per-variable tidies, so that they live through the whole step.
      const lrScale = scalarsFor(live.map((l) => l[3].lrMult), (m) => s * lr * m);
      const wdScale = scalarsFor(live.map((l) => l[3].wdMult), (m) => s * wd * m);
      for (const [name, p, g0, plan] of live) {
        tf.tidy(() => {
          const g = clip === null ? g0 : tf.mul(g0, clip);
          let delta = tf.mul(this.direction(name, g, k), lrScale(plan.lrMult));
          if (wd !== 0 && plan.wdMult !== 0) delta = tf.add(delta, tf.mul(p, wdScale(plan.wdMult)));
          p.assign(tf.sub(p, delta));
        });
      }
    });
    this.t++;
  }

  getState(): OptState {
    return { step: this.t, tensors: new Map(this.slots) };
  }

  setState(state: OptState): void {
    const missing = [...this.slots.keys()].filter((k) => !state.tensors.has(k));
    const extra = [...state.tensors.keys()].filter((k) => !this.slots.has(k));
    if (missing.length > 0 || extra.length > 0) {
      throw new Error(`optimizer state mismatch: missing [${missing.join(', ')}], unexpected [${extra.join(', ')}]`);
    }
    for (const [key, t] of state.tensors) {
      const cur = this.slots.get(key) as tf.Tensor;
      if (!tf.util.arraysEqual(cur.shape, t.shape) || t.dtype !== 'float32') {
        throw new Error(`optimizer state ${key}: ${t.dtype} [${t.shape}] given, float32 [${cur.shape}] expected`);
      }
    }
    for (const [key, t] of state.tensors) {
      this.slots.get(key)?.dispose();
      this.slots.set(key, tf.keep(t.clone()));
    }
    this.t = state.step;
  }

  dispose(): void {
    for (const t of this.slots.values()) t.dispose();
    this.slots.clear();
  }
}

/** One scalar tensor per distinct multiplier value. */
function scalarsFor(mults: number[], value: (mult: number) => number): (mult: number) => tf.Scalar {
  const cache = new Map<number, tf.Scalar>();
  for (const m of mults) if (!cache.has(m)) cache.set(m, tf.scalar(value(m)));
  return (m) => cache.get(m) as tf.Scalar;
}
