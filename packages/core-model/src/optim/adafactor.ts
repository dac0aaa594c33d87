/**
 * big_vision's Adafactor variant (big_vision/optax.py `scale_by_adafactor`): optax `scale_by_factored_rms` with a
 * capped decay, optional `clip_by_block_rms`, then momentum (`optax.ema`, debias=False) on the normalised update,
 * inside the shared lr / lr-mult / weight-decay / schedule chain (./chain.ts).
 *
 * Second moment at step t (counted from 0): β2_t = min(beta2Cap, 1 − (t − decayOffset + 1)^−decayRate), so the
 * first step keeps just g² + ε. For a tensor whose two largest dims are both ≥ minDimSizeToFactor (d0 the largest,
 * d1 the next; ties: the later axis is d0, as numpy's argsort), keep
 *   v_row ← β2·v_row + (1−β2)·mean_{d0}(g² + ε)        (shape without d0)
 *   v_col ← β2·v_col + (1−β2)·mean_{d1}(g² + ε)        (shape without d1)
 *   u = g · (v_row / mean_{d1}(v_row))^−½ [d0 re-inserted] · v_col^−½ [d1 re-inserted]
 * i.e. v̂ = v_row ⊗ v_col / mean(v_row); other dims (rank > 2) are kept per slice. Otherwise keep the full
 * v ← β2·v + (1−β2)·(g² + ε) and u = g·v^−½. Then m ← μ·m + (1−μ)·u, and m is the direction.
 *
 * Deviation: big_vision keeps m in bfloat16; here it is float32 (tfjs has no bfloat16).
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedWasm, wasmFused } from '../backend/wasm-fused';
import type { Params } from '../model/policy';
import { ChainedOptimizer, type ChainConfig } from './chain';
import { clipByBlockRms } from './clip';

export interface AdafactorOptions {
  /** Factor a tensor's second moment only if its two largest dims are at least this (default 32). */
  readonly minDimSizeToFactor?: number;
  /** Exponent of the β2 schedule (default 0.8). */
  readonly decayRate?: number;
  /** Step at which the β2 schedule restarts, for fine-tuning (default 0). */
  readonly decayOffset?: number;
  /** Upper bound of β2 (default 0.999, big_vision's; its UViM configs use 0.95). */
  readonly beta2Cap?: number;
  /** `clip_by_block_rms` threshold on the normalised update; unset = off. */
  readonly clippingThreshold?: number;
  /** First-moment EMA decay (default 0.9); 0 = no momentum. */
  readonly momentum?: number;
  /** Added to g² (default 1e-30). */
  readonly eps?: number;
}

interface Scalars {
  readonly beta2: tf.Scalar;
  readonly oneMinusBeta2: tf.Scalar;
  readonly eps: tf.Scalar;
  readonly mu: tf.Scalar;
  readonly oneMinusMu: tf.Scalar;
}

/** The two axes optax factors over, [d1, d0] (d0 the largest), or null for a full second moment. */
export function factoredDims(shape: readonly number[], minDimSizeToFactor: number): [number, number] | null {
  if (shape.length < 2) return null;
  const order = shape.map((_, i) => i).sort((a, b) => shape[a] - shape[b]);
  const d1 = order[order.length - 2];
  const d0 = order[order.length - 1];
  return shape[d1] < minDimSizeToFactor ? null : [d1, d0];
}

export class Adafactor extends ChainedOptimizer<Scalars> {
  private readonly o: Required<Omit<AdafactorOptions, 'clippingThreshold'>> & { clippingThreshold?: number };

  constructor(params: Params, cfg: ChainConfig & { readonly adafactor?: AdafactorOptions }) {
    super(params, cfg);
    const a = cfg.adafactor ?? {};
    this.o = {
      minDimSizeToFactor: a.minDimSizeToFactor ?? 32,
      decayRate: a.decayRate ?? 0.8,
      decayOffset: a.decayOffset ?? 0,
      beta2Cap: a.beta2Cap ?? 0.999,
      momentum: a.momentum ?? 0.9,
      eps: a.eps ?? 1e-30,
      clippingThreshold: a.clippingThreshold,
    };
    this.initSlots(params);
  }

  /** β2 at step t. */
  beta2(t: number): number {
    return Math.min(this.o.beta2Cap, 1 - Math.pow(t - this.o.decayOffset + 1, -this.o.decayRate));
  }

  protected slotShapes(shape: readonly number[]): Array<[string, number[]]> {
    const slots: Array<[string, number[]]> = [];
    const f = factoredDims(shape, this.o.minDimSizeToFactor);
    if (f === null) slots.push(['v', [...shape]]);
    else {
      const [d1, d0] = f;
      slots.push(['v_row', shape.filter((_, i) => i !== d0)], ['v_col', shape.filter((_, i) => i !== d1)]);
    }
    if (this.o.momentum !== 0) slots.push(['m', [...shape]]);
    return slots;
  }

  protected elementwise(shape: readonly number[]): boolean {
    // clip_by_block_rms takes each parameter's own RMS, so with it no update is purely elementwise.
    return this.o.clippingThreshold === undefined && factoredDims(shape, this.o.minDimSizeToFactor) === null;
  }

  protected stepScalars(t: number): Scalars {
    const b = this.beta2(t);
    return {
      beta2: tf.scalar(b),
      oneMinusBeta2: tf.scalar(1 - b),
      eps: tf.scalar(this.o.eps),
      mu: tf.scalar(this.o.momentum),
      oneMinusMu: tf.scalar(1 - this.o.momentum),
    };
  }

  protected direction(name: string, g: tf.Tensor, k: Scalars): tf.Tensor {
    const ema = (old: tf.Tensor, x: tf.Tensor): tf.Tensor => tf.add(tf.mul(k.beta2, old), tf.mul(k.oneMinusBeta2, x));
    const f = factoredDims(g.shape, this.o.minDimSizeToFactor);
    if (f === null && this.o.momentum !== 0 && this.o.clippingThreshold === undefined && fusedWasm()) {
      // The same operations in two passes (wasm-fused.ts): the composed ops' values, bit for bit.
      const v = wasmFused.adafactorV(this.slot(name, 'v'), g, k.beta2, k.oneMinusBeta2, k.eps);
      const m = wasmFused.adafactorM(this.slot(name, 'm'), g, v, k.mu, k.oneMinusMu);
      this.setSlot(name, 'v', v);
      this.setSlot(name, 'm', m);
      return m;
    }
    const g2 = tf.add(tf.square(g), k.eps);
    let u: tf.Tensor;
    if (f === null) {
      const v = ema(this.slot(name, 'v'), g2);
      this.setSlot(name, 'v', v);
      u = tf.mul(g, tf.rsqrt(v));
    } else {
      const [d1, d0] = f;
      const vRow = ema(this.slot(name, 'v_row'), tf.mean(g2, d0));
      const vCol = ema(this.slot(name, 'v_col'), tf.mean(g2, d1));
      this.setSlot(name, 'v_row', vRow);
      this.setSlot(name, 'v_col', vCol);
      const rowFactor = tf.rsqrt(tf.div(vRow, tf.mean(vRow, d1 > d0 ? d1 - 1 : d1, true)));
      u = tf.mul(tf.mul(g, tf.expandDims(rowFactor, d0)), tf.expandDims(tf.rsqrt(vCol), d1));
    }
    if (this.o.clippingThreshold !== undefined) u = clipByBlockRms(u, this.o.clippingThreshold);
    if (this.o.momentum === 0) return u;
    const m = tf.add(tf.mul(k.mu, this.slot(name, 'm')), tf.mul(k.oneMinusMu, u));
    this.setSlot(name, 'm', m);
    return m;
  }
}
