/**
 * Advantages for the REINFORCE estimators, from a [B, N] reward matrix (B inputs, N samples each, row-major).
 *
 * - `paper` (big_vision detection_reward.py): only sample 0 of each input carries the gradient; its baseline is the
 *   mean reward of the other N−1 samples. Returns [B] advantages for sample 0.
 * - `rloo`: every sample carries the gradient, each with the leave-one-out mean of the other N−1 as baseline.
 *   Returns [B, N].
 * - `rtg` (reward to go): every sample carries the gradient, with one advantage per token (rewardToGoAdvantages).
 * Every baseline excludes the sample it is subtracted from, which keeps the estimator unbiased.
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
  return leaveOneOut(rewards, batch, samples, 1);
}

/**
 * [B, N, L] per-token advantages from [B, N, L] per-token rewards r (the task's split of each sample's reward into
 * increments that depend only on the tokens up to their position; Σ_t r[t] = the sample's reward).
 *
 * Token t's advantage is its reward to go G[t] = Σ_{t' ≥ t} r[t'] minus the mean of G[t] over the other N−1 samples
 * of the same input. Both parts keep the estimator unbiased for ∇E[R]: the rewards before t, R − G[t], are fixed by
 * the prefix before token t was drawn, so ∇log π(y_t | prefix) times them has expectation zero; and the other
 * samples are independent of this one. What is gone is the noise those earlier increments added to every later
 * token's gradient (detection: the outcome of the boxes already drawn).
 *
 * `discount` γ < 1 weighs a reward d steps later by γ^d, a step being `tokensPerStep` tokens (detection: a box
 * slot; a token by default): less noise from the far future, at the price of a bias (a token's effect on later
 * steps' rewards is discounted too). γ = 1 (default) is unbiased.
 */
export function rewardToGoAdvantages(
  tokenRewards: Float64Array | Float32Array,
  batch: number,
  samples: number,
  length: number,
  discount = 1,
  tokensPerStep = 1,
): Float64Array {
  if (!(discount >= 0 && discount <= 1)) throw new RangeError(`discount must be in [0, 1], got ${discount}`);
  if (!(Number.isInteger(tokensPerStep) && tokensPerStep >= 1))
    throw new RangeError(`tokensPerStep must be a positive integer, got ${tokensPerStep}`);
  checkShape(tokenRewards, batch, samples, length, 'tokenRewards');
  const togo = new Float64Array(tokenRewards.length);
  for (let row = 0; row < batch * samples; row++) {
    let acc = 0;
    for (let t = length - 1; t >= 0; t--) {
      if ((t + 1) % tokensPerStep === 0) acc *= discount; // t + 1 began the next step
      acc += tokenRewards[row * length + t];
      togo[row * length + t] = acc;
    }
  }
  return leaveOneOut(togo, batch, samples, length);
}

/** [B, N, L] values minus, at each input and position, the mean of the other N−1 samples' values there. */
function leaveOneOut(
  values: Float64Array | Float32Array,
  batch: number,
  samples: number,
  length: number,
): Float64Array {
  const out = new Float64Array(values.length);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < length; t++) {
      let total = 0;
      for (let n = 0; n < samples; n++) total += values[(b * samples + n) * length + t];
      for (let n = 0; n < samples; n++) {
        const i = (b * samples + n) * length + t;
        out[i] = values[i] - (total - values[i]) / (samples - 1);
      }
    }
  }
  return out;
}

/** At least 2 samples per input (a leave-one-out baseline), and B×N (×L when given) values. */
function checkShape(values: ArrayLike<number>, batch: number, samples: number, length = 1, name = 'rewards'): void {
  if (samples < 2) throw new RangeError(`a leave-one-out baseline needs at least 2 samples per input, got ${samples}`);
  if (values.length !== batch * samples * length) {
    const shape = length === 1 ? `${batch}×${samples}` : `${batch}×${samples}×${length}`;
    throw new RangeError(`${name} has ${values.length} values, expected ${shape}`);
  }
}

/** (a − mean)/std over the step's advantages (TuneConfig.normalizeAdvantages); all zero when they are all equal. */
export function normalizeAdvantages(a: Float64Array): Float64Array {
  const n = a.length;
  if (n === 0) return a;
  const mean = a.reduce((s, x) => s + x, 0) / n;
  const std = Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / n);
  return a.map((x) => (std > 1e-12 ? (x - mean) / std : 0));
}
