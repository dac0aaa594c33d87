/**
 * Adam with bias correction (optax `scale_by_adam`) inside the shared decoupled chain (./chain.ts), so weight decay
 * is added after the lr scaling and is not multiplied by lr — big_vision's `optax_name="adam"` + `wd`, not PyTorch's
 * AdamW (whose decay is lr·wd·θ). At step t (from 0), with n = t + 1:
 *   m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²,  u = (m / (1−β1ⁿ)) / (sqrt(v / (1−β2ⁿ)) + ε)
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedWasm, wasmFused } from '../backend/wasm-fused';
import type { Params } from '../model/policy';
import { ChainedOptimizer, type ChainConfig } from './chain';

export interface AdamOptions {
  readonly b1?: number;
  readonly b2?: number;
  readonly eps?: number;
}

interface Scalars {
  readonly b1: tf.Scalar;
  readonly oneMinusB1: tf.Scalar;
  readonly b2: tf.Scalar;
  readonly oneMinusB2: tf.Scalar;
  readonly debias1: tf.Scalar;
  readonly debias2: tf.Scalar;
  readonly eps: tf.Scalar;
}

export class AdamW extends ChainedOptimizer<Scalars> {
  private readonly o: Required<AdamOptions>;

  constructor(params: Params, cfg: ChainConfig & { readonly adam?: AdamOptions }) {
    super(params, cfg);
    this.o = { b1: cfg.adam?.b1 ?? 0.9, b2: cfg.adam?.b2 ?? 0.999, eps: cfg.adam?.eps ?? 1e-8 };
    this.initSlots(params);
  }

  protected slotShapes(shape: readonly number[]): Array<[string, number[]]> {
    return [
      ['m', [...shape]],
      ['v', [...shape]],
    ];
  }

  protected elementwise(): boolean {
    return true;
  }

  protected stepScalars(t: number): Scalars {
    const { b1, b2, eps } = this.o;
    return {
      b1: tf.scalar(b1),
      oneMinusB1: tf.scalar(1 - b1),
      b2: tf.scalar(b2),
      oneMinusB2: tf.scalar(1 - b2),
      debias1: tf.scalar(1 / (1 - Math.pow(b1, t + 1))),
      debias2: tf.scalar(1 / (1 - Math.pow(b2, t + 1))),
      eps: tf.scalar(eps),
    };
  }

  protected override hasGroupStep(): boolean {
    return fusedWasm();
  }

  /** The flat group's step as one wasm kernel (wasm-fused.ts's RtAdamGroup): direction's and the step's values. */
  protected override groupStep(
    [m, v]: tf.Tensor[],
    grads: tf.Tensor[],
    values: tf.Tensor[],
    k: Scalars,
    lr: tf.Scalar,
    wd: tf.Tensor | null,
  ): { slots: tf.Tensor[]; values: tf.Tensor[] } {
    const s = { b1: k.b1, c1: k.oneMinusB1, b2: k.b2, c2: k.oneMinusB2, d1: k.debias1, d2: k.debias2, eps: k.eps, lr };
    const r = wasmFused.adamGroup(m, v, grads, values, wd === null ? s : { ...s, wd });
    return { slots: [r.m, r.v], values: r.values };
  }

  protected direction(name: string, g: tf.Tensor, k: Scalars): tf.Tensor {
    if (fusedWasm()) {
      // The same operations in one pass each (wasm-fused.ts): the composed ops' values, bit for bit.
      const m = wasmFused.adamM(this.slot(name, 'm'), g, k.b1, k.oneMinusB1);
      const v = wasmFused.adamV(this.slot(name, 'v'), g, k.b2, k.oneMinusB2);
      this.setSlot(name, 'm', m);
      this.setSlot(name, 'v', v);
      return wasmFused.adamU(m, v, k.debias1, k.debias2, k.eps);
    }
    const m = tf.add(tf.mul(k.b1, this.slot(name, 'm')), tf.mul(k.oneMinusB1, g));
    const v = tf.add(tf.mul(k.b2, this.slot(name, 'v')), tf.mul(k.oneMinusB2, tf.square(g)));
    this.setSlot(name, 'm', m);
    this.setSlot(name, 'v', v);
    return tf.div(tf.mul(m, k.debias1), tf.add(tf.sqrt(tf.mul(v, k.debias2)), k.eps));
  }
}
