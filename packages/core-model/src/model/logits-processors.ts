/**
 * Logits processors: constraints on which tokens may appear at each position, shared by the sampler and the
 * teacher-forced scorer so that REINFORCE re-scores exactly the distribution it sampled from. A processor only
 * forbids tokens (it clears entries of an `allowed` mask); the model then adds NEG (a large negative finite number,
 * not −∞) to the logits of forbidden tokens.
 *
 * Dimension legend: R rows (B, or B·N in the sampler), L length, V vocabulary.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NEG } from './ops';

export interface ProcessorContext {
  /** Position being decided, 0 ≤ t < L. */
  readonly position: number;
  readonly rows: number;
  readonly length: number;
  readonly vocabSize: number;
  /**
   * Tokens [R, L] row-major; for each row only the columns before `position` are meaningful (the prefix already
   * chosen). Dynamic processors read them; static ones ignore them.
   */
  readonly tokens: Int32Array;
}

export interface LogitsProcessor {
  /** True when the constraint depends on earlier tokens, not only on the position. */
  readonly dynamic: boolean;
  /** Clears allowed[r·V + v] for each token v forbidden at `ctx.position` in row r. `allowed` is [R, V]. */
  restrict(ctx: ProcessorContext, allowed: Uint8Array): void;
}

/** Token ranges [lo, hi) → a [V] 0/1 mask. */
export function tokenSet(vocabSize: number, ranges: readonly (readonly [number, number])[]): Uint8Array {
  const m = new Uint8Array(vocabSize);
  for (const [lo, hi] of ranges) {
    if (lo < 0 || hi > vocabSize || lo > hi)
      throw new Error(`token range [${lo}, ${hi}) outside vocabulary ${vocabSize}`);
    m.fill(1, lo, hi);
  }
  return m;
}

function intersectRows(allowed: Uint8Array, rows: number, keep: Uint8Array): void {
  const v = keep.length;
  for (let r = 0; r < rows; r++) {
    const o = r * v;
    for (let j = 0; j < v; j++) if (keep[j] === 0) allowed[o + j] = 0;
  }
}

/** Forces token `token` at position `position` (e.g. a task prompt). */
export function forcedTokens(forced: ReadonlyMap<number, number>): LogitsProcessor {
  return {
    dynamic: false,
    restrict(ctx, allowed) {
      const tok = forced.get(ctx.position);
      if (tok === undefined) return;
      for (let r = 0; r < ctx.rows; r++) {
        const o = r * ctx.vocabSize;
        const keep = allowed[o + tok];
        allowed.fill(0, o, o + ctx.vocabSize);
        allowed[o + tok] = keep;
      }
    },
  };
}

/** Never emits these tokens (e.g. a reserved BOS id). */
export function suppressTokens(tokens: readonly number[]): LogitsProcessor {
  return {
    dynamic: false,
    restrict(ctx, allowed) {
      for (let r = 0; r < ctx.rows; r++) for (const t of tokens) allowed[r * ctx.vocabSize + t] = 0;
    },
  };
}

/**
 * Slot-structured outputs: position t belongs to slot t mod `slots.length`, which allows only its token set. E.g.
 * detection's [ymin, xmin, ymax, xmax, class, conf] boxes: six masks repeating every 6 positions.
 */
export function slotMask(slots: readonly Uint8Array[]): LogitsProcessor {
  if (slots.length === 0) throw new Error('slotMask needs at least one slot');
  return {
    dynamic: false,
    restrict(ctx, allowed) {
      const keep = slots[ctx.position % slots.length];
      if (keep.length !== ctx.vocabSize)
        throw new Error(`slot mask of size ${keep.length} != vocabulary ${ctx.vocabSize}`);
      intersectRows(allowed, ctx.rows, keep);
    },
  };
}

/**
 * A constraint computed from each row's prefix: `allow(position, prefix)` returns the allowed [V] mask for that row
 * (or null for no constraint). E.g. "ymax ≥ ymin" for the third token of a box.
 */
export function prefixConstraint(allow: (position: number, prefix: Int32Array) => Uint8Array | null): LogitsProcessor {
  return {
    dynamic: true,
    restrict(ctx, allowed) {
      for (let r = 0; r < ctx.rows; r++) {
        const row = ctx.tokens.subarray(r * ctx.length, r * ctx.length + ctx.position);
        const keep = allow(ctx.position, row);
        if (keep === null) continue;
        const o = r * ctx.vocabSize;
        for (let j = 0; j < ctx.vocabSize; j++) if (keep[j] === 0) allowed[o + j] = 0;
      }
    },
  };
}

/** The allowed mask [R, V] at one position after all processors, or null when there are none. */
export function allowedAt(processors: readonly LogitsProcessor[], ctx: ProcessorContext): Uint8Array | null {
  if (processors.length === 0) return null;
  const allowed = new Uint8Array(ctx.rows * ctx.vocabSize).fill(1);
  for (const p of processors) p.restrict(ctx, allowed);
  for (let r = 0; r < ctx.rows; r++) {
    const row = allowed.subarray(r * ctx.vocabSize, (r + 1) * ctx.vocabSize);
    if (!row.includes(1))
      throw new Error(`logits processors forbid every token at position ${ctx.position} (row ${r})`);
  }
  return allowed;
}

/**
 * The additive logit bias for teacher forcing over the whole sequence: [1, L, V] when every processor is static
 * (one mask for all rows), else [R, L, V] from the given tokens [R, L]. Null when there are no processors.
 */
export function sequenceBias(
  processors: readonly LogitsProcessor[],
  tokens: Int32Array | null,
  rows: number,
  length: number,
  vocabSize: number,
): tf.Tensor3D | null {
  if (processors.length === 0) return null;
  const dynamic = processors.some((p) => p.dynamic);
  if (dynamic && tokens === null) throw new Error('dynamic logits processors need the token values');
  const r = dynamic ? rows : 1;
  const toks = tokens ?? new Int32Array(rows * length);
  const bias = new Float32Array(r * length * vocabSize);
  for (let t = 0; t < length; t++) {
    const allowed = allowedAt(processors, { position: t, rows: r, length, vocabSize, tokens: toks })!;
    for (let i = 0; i < r; i++) {
      const src = i * vocabSize;
      const dst = (i * length + t) * vocabSize;
      for (let j = 0; j < vocabSize; j++) if (allowed[src + j] === 0) bias[dst + j] = NEG;
    }
  }
  return tf.tensor3d(bias, [r, length, vocabSize]);
}

const knownValues = new WeakMap<tf.Tensor, Int32Array>();

/**
 * A [R, L] int32 token tensor that remembers its values. A teacher-forced pass under dynamic processors needs the
 * token values on the CPU, and webgpu in Node cannot read a tensor synchronously: make the tokens of such a pass
 * (the sampled rows of a tuning step, greedy outputs being scored) here, from the values the sampler returned.
 */
export function tokensTensor(values: Int32Array, shape: [number, number]): tf.Tensor2D {
  const copy = Int32Array.from(values); // tfjs may keep the caller's array as the tensor's storage
  const t = tf.tensor2d(copy, shape, 'int32');
  knownValues.set(t, copy);
  return t;
}

/** The values a `tokensTensor` was made from (undefined for any other tensor). */
export function tokensTensorValues(t: tf.Tensor): Int32Array | undefined {
  return knownValues.get(t);
}
