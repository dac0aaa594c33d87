/**
 * The report's chart layout helpers, pure functions of the numbers to plot: the series type, round tick values and
 * a data extent. No drawing here (svg.ts) and no records (records.ts).
 */

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly color: string;
  /** Draw markers only (sparse evaluations) instead of a line with markers. */
  readonly markersOnly?: boolean;
}

/**
 * Whether [lo, hi] is a single value for plotting: equal, or apart by less than the numbers resolve (e.g. two
 * rewards a few ulps apart), where a step between them would not move a tick.
 */
const pointLike = (lo: number, hi: number): boolean => !(hi - lo > Math.max(Math.abs(lo), Math.abs(hi)) * 1e-12);

/** About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 × 10^k). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (pointLike(lo, hi)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) as number;
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step); k * step <= hi + step * 1e-9; k++) ticks.push(Number((k * step).toPrecision(12)));
  return ticks;
}

export function extent(values: number[]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (pointLike(lo, hi)) {
    lo -= 0.5;
    hi += 0.5;
  }
  return [lo, hi];
}
