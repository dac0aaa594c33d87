/**
 * Advantages for the REINFORCE estimators, from a [B, N] reward matrix (B inputs, N samples each, row-major).
 *
 * - `paper` (big_vision detection_reward.py): only sample 0 of each input carries the gradient; its baseline is the
 *   mean reward of the other N−1 samples. Returns [B] advantages for sample 0.
 * - `rloo`: every sample carries the gradient, each with the leave-one-out mean of the other N−1 as baseline.
 *   Returns [B, N].
 * Both baselines exclude the sample they are subtracted from, which keeps the estimator unbiased.
 */
export function paperAdvantages(rewards: Float64Array | Float32Array, batch: number, samples: number): Float64Array {
  checkShape(rewards, batch, samples);
  const out = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    let others = 0;
    for (let n = 1; n < samples; n++) others += rewards[b * samples + n];
    out[b] = rewards[b * samples] - others / (samples - 1);
  }
  return out;
}

export function rlooAdvantages(rewards: Float64Array | Float32Array, batch: number, samples: number): Float64Array {
  checkShape(rewards, batch, samples);
  const out = new Float64Array(batch * samples);
  for (let b = 0; b < batch; b++) {
    let total = 0;
    for (let n = 0; n < samples; n++) total += rewards[b * samples + n];
    for (let n = 0; n < samples; n++) {
      const r = rewards[b * samples + n];
      out[b * samples + n] = r - (total - r) / (samples - 1);
    }
  }
  return out;
}

function checkShape(rewards: ArrayLike<number>, batch: number, samples: number): void {
  if (samples < 2) throw new RangeError(`a leave-one-out baseline needs at least 2 samples per input, got ${samples}`);
  if (rewards.length !== batch * samples) {
    throw new RangeError(`rewards has ${rewards.length} values, expected ${batch}×${samples}`);
  }
}
