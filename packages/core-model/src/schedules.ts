/**
 * Learning-rate schedules, as multipliers of the base learning rate (big_vision `create_learning_rate_schedule`).
 *
 * Every schedule starts with a linear warmup, `min(1, step / warmupSteps)`, then decays:
 *   constant: 1
 *   cosine:   0.5·(1 + cos(π·p)),  p = clip((step − warmup) / (total − warmup), 0, 1)
 *   rsqrt:    1 / sqrt(1 + (step − warmup) / timescale)
 * `step` counts optimizer updates from 0.
 */
export type Schedule =
  | { readonly kind: 'constant'; readonly warmupSteps?: number }
  | { readonly kind: 'cosine'; readonly warmupSteps?: number; readonly totalSteps: number }
  | { readonly kind: 'rsqrt'; readonly warmupSteps?: number; readonly timescale: number };

export function scheduleMultiplier(s: Schedule, step: number): number {
  const warmup = s.warmupSteps ?? 0;
  const ramp = warmup > 0 ? Math.min(1, step / warmup) : 1;
  const after = Math.max(0, step - warmup);
  switch (s.kind) {
    case 'constant':
      return ramp;
    case 'cosine': {
      const span = s.totalSteps - warmup;
      const p = span > 0 ? Math.min(1, after / span) : 1;
      return ramp * 0.5 * (1 + Math.cos(Math.PI * p));
    }
    case 'rsqrt':
      return ramp / Math.sqrt(1 + after / s.timescale);
  }
}
