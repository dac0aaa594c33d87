/**
 * The optimizer contract used by the training loops. Implementations (Adafactor, AdamW) keep their state as named
 * tensors so that a checkpoint can save and restore it exactly.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Params } from '../model/policy';

export interface Optimizer {
  /** Number of updates applied so far (the schedule's `t`). */
  readonly step: number;
  /** Applies one update to `params` from `grads` (same names; a missing gradient leaves that parameter alone). */
  apply(params: Params, grads: ReadonlyMap<string, tf.Tensor>): void;
  /**
   * Whether `apply` ignores this parameter's gradient (a learning-rate multiplier of 0), so that the training loop
   * need not compute it: with a frozen image encoder that spares the encoder's whole backward pass. Absent: none is.
   */
  isFrozen?(name: string): boolean;
  /** State tensors by name (e.g. `<param>/m`, `<param>/v_row`), plus the step, for checkpoints. */
  getState(): { readonly step: number; readonly tensors: ReadonlyMap<string, tf.Tensor> };
  /** Restores what `getState` returned (tensors are copied). */
  setState(state: { readonly step: number; readonly tensors: ReadonlyMap<string, tf.Tensor> }): void;
  dispose(): void;
}
