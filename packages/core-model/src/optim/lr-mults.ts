/**
 * Per-parameter multipliers chosen by name regex, as big_vision's `lr_mults` / `wd_mults` (utils.make_mask_trees):
 * a rule's pattern must match the WHOLE name (Python `re.fullmatch`), the first matching rule wins, and a name that
 * no rule matches gets the default. A learning-rate multiplier of 0 freezes the parameter: no optimizer state, no
 * weight decay, and it is left out of the global gradient norm (big_vision's `schedule=None` freezing).
 */

/** `[pattern, multiplier]` pairs, tried in order; patterns are anchored at both ends. */
export type PatternMults = ReadonlyArray<readonly [pattern: string, mult: number]>;

/** big_vision's default weight-decay mask: only kernels decay (not biases, norms, embeddings). */
export const DEFAULT_WD_MULTS: PatternMults = [['.*/kernel$', 1]];

export interface ParamPlan {
  readonly lrMult: number;
  readonly wdMult: number;
  readonly frozen: boolean;
}

/** A name → multiplier function for `rules` (compiled once); `fallback` when nothing matches. */
export function multiplierFor(rules: PatternMults, fallback: number): (name: string) => number {
  const compiled = rules.map(([pattern, mult]) => {
    if (!Number.isFinite(mult) || mult < 0)
      throw new RangeError(`multiplier for /${pattern}/ must be ≥ 0, got ${mult}`);
    return { re: new RegExp(`^(?:${pattern})$`), mult };
  });
  return (name) => compiled.find((r) => r.re.test(name))?.mult ?? fallback;
}

/** The multipliers of every named parameter. */
export function planParams(
  names: Iterable<string>,
  lrMults: PatternMults = [],
  wdMults: PatternMults = DEFAULT_WD_MULTS,
): Map<string, ParamPlan> {
  const lr = multiplierFor(lrMults, 1);
  const wd = multiplierFor(wdMults, 0);
  const plan = new Map<string, ParamPlan>();
  for (const name of names) {
    const lrMult = lr(name);
    plan.set(name, { lrMult, wdMult: lrMult === 0 ? 0 : wd(name), frozen: lrMult === 0 });
  }
  return plan;
}
