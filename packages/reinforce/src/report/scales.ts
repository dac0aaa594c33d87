/**
 * The report's chart layout, pure functions of the numbers to plot: pycocotools' −1 ("not applicable") taken out,
 * series that coincide drawn once, which series share a chart (one chart per scale: fractions in [0, 1] apart from
 * counts and other magnitudes), and the y axis each chart gets (its data's range with round ends, from 0 only when 0
 * is near the data). No drawing here (svg.ts) and no records (records.ts).
 */

/** A line of a chart: (x, y) points in x order. */
export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly color: string;
  /** Draw markers only (sparse evaluations) instead of a line with markers. */
  readonly markersOnly?: boolean;
}

/** pycocotools' value for a metric with nothing to measure (e.g. AP of large objects when there are none). */
export const NOT_APPLICABLE = -1;

/**
 * Whether [lo, hi] is a single value for plotting: equal, or apart by less than the numbers resolve (e.g. two
 * rewards a few ulps apart), where a step between them would not move a tick.
 */
export const pointLike = (lo: number, hi: number): boolean => !(hi - lo > Math.max(Math.abs(lo), Math.abs(hi)) * 1e-12);

/** The round step (1, 2 or 5 × 10^k) that cuts [lo, hi] into about `count` parts. */
export function tickStep(lo: number, hi: number, count = 5): number {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw * (1 - 1e-9)) as number;
}

/** About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 × 10^k). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (pointLike(lo, hi)) return [lo];
  const step = tickStep(lo, hi, count);
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step); k * step <= hi + step * 1e-9; k++) ticks.push(Number((k * step).toPrecision(12)));
  return ticks;
}

/** [min, max] of the finite values ([0, 1] if none), widened by ±0.5 around a single value. */
export function extent(values: readonly number[]): [number, number] {
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

/** A chart's y axis: its ends and its tick values (multiples of one round step, the ends among them). */
export interface Axis {
  readonly range: readonly [number, number];
  readonly ticks: readonly number[];
}

/**
 * A y axis for `values`: their range padded by 5% and rounded out to a round step (1, 2 or 5 × 10^k, 4 to 8 parts).
 * It starts at 0 only when 0 is within half the data's span below the data (so the lines keep at least two thirds of
 * the height); a `fraction` axis stays in [0, 1]. A single value gets ±10% of itself (±0.05 for a fraction, ±0.5
 * for 0).
 */
export function yAxis(values: readonly number[], fraction = false): Axis {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return { range: [0, 1], ticks: niceTicks(0, 1) };
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (pointLike(lo, hi)) {
    const half = fraction ? 0.05 : lo === 0 ? 0.5 : Math.abs(lo) * 0.1;
    lo -= half;
    hi += half;
  } else {
    const span = hi - lo;
    if (lo > 0 && lo <= span / 2) lo = 0;
    else if (hi < 0 && -hi <= span / 2) hi = 0;
    lo -= lo === 0 ? 0 : span * 0.05;
    hi += hi === 0 ? 0 : span * 0.05;
  }
  if (fraction) {
    lo = Math.max(0, lo);
    hi = Math.min(1, hi);
  }
  // The coarser step of about 5 parts, or the next finer one when its rounded range has at most 8 parts (tighter).
  const coarse = tickStep(lo, hi);
  const mag = 10 ** Math.floor(Math.log10(coarse) + 1e-9);
  const mantissa = Math.round(coarse / mag);
  const fine = (mantissa === 1 ? 0.5 : mantissa === 2 ? 1 : 2) * mag;
  const snapped = (step: number) => {
    const ticks: number[] = [];
    for (let k = Math.floor(lo / step + 1e-9); k <= Math.ceil(hi / step - 1e-9); k++)
      ticks.push(Number((k * step).toPrecision(12)));
    return ticks;
  };
  const ticks = snapped(fine).length <= 9 ? snapped(fine) : snapped(coarse);
  return { range: [ticks[0], ticks[ticks.length - 1]], ticks };
}

/** The series without its −1 and non-finite points. */
export function withoutNotApplicable(s: Series): Series {
  return {
    ...s,
    points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && y !== NOT_APPLICABLE),
  };
}

/** Whether two series have the same x values and y values apart by at most `tolerance` (0: equal as plotted). */
const samePoints = (a: Series, b: Series, tolerance: number): boolean =>
  a.points.length === b.points.length &&
  a.points.every(([x, y], i) => {
    const [bx, by] = b.points[i];
    return x === bx && (tolerance > 0 ? Math.abs(y - by) <= tolerance : pointLike(Math.min(y, by), Math.max(y, by)));
  });

/**
 * Series that coincide drawn once (one line would hide the other): under their names joined by " = " where the
 * points are equal (e.g. "AR10 = AR100 = ARs"), by " ≈ " where they are apart by at most `tolerance` > 0.
 */
export function mergeCoinciding(series: readonly Series[], tolerance = 0): Series[] {
  const out: Series[] = [];
  for (const s of series) {
    const i = out.findIndex((o) => samePoints(o, s, tolerance));
    if (i < 0) out.push(s);
    else out[i] = { ...out[i], name: `${out[i].name} ${samePoints(out[i], s, 0) ? '=' : '≈'} ${s.name}` };
  }
  return out;
}

/** Series closer than this share of their chart's y axis at every point are drawn once ("AP ≈ APs"). */
export const NEAR_SHARE = 0.005;

/** Series that share one y axis. */
export interface ScaleGroup {
  /** `fraction`: every value in [0, 1] (AP, AR, BLEU, shares); `magnitude`: the others, within a factor of 10. */
  readonly kind: 'fraction' | 'magnitude';
  readonly series: readonly Series[];
  /** The y axis, from `yAxis`. */
  readonly axis: Axis;
  /** Series within this of each other everywhere are drawn as one, named "a ≈ b" (NEAR_SHARE of the axis). */
  readonly tolerance: number;
}

export interface ScaleLayout {
  /** Fractions first, then magnitudes ascending. */
  readonly groups: readonly ScaleGroup[];
  /** Series that were −1 wherever they were measured, left out of every chart. */
  readonly notApplicable: readonly string[];
}

/**
 * One chart per scale: −1 points dropped (and series with nothing else, named in `notApplicable`), equal series
 * merged, the series all in [0, 1] on one chart, the others grouped by the size of their largest |value| (a group
 * holds values within a factor of 10 of its smallest series'), each group with its own axis, and within a group the
 * series that the axis cannot tell apart (`NEAR_SHARE`) merged.
 */
export function layoutByScale(series: readonly Series[]): ScaleLayout {
  const notApplicable: string[] = [];
  const kept: Series[] = [];
  for (const s of series) {
    const clean = withoutNotApplicable(s);
    if (clean.points.length > 0) kept.push(clean);
    else if (s.points.some(([, y]) => y === NOT_APPLICABLE)) notApplicable.push(s.name);
  }
  const merged = mergeCoinciding(kept);
  const ys = (s: Series) => s.points.map((p) => p[1]);
  const isFraction = (s: Series) => ys(s).every((y) => y >= 0 && y <= 1);
  const size = (s: Series) => Math.max(...ys(s).map(Math.abs));
  const groups: ScaleGroup[] = [];
  const group = (kind: ScaleGroup['kind'], members: Series[]) => {
    // Within a chart, the series keep the order they came in (the legend's order).
    const inOrder = [...members].sort((a, b) => merged.indexOf(a) - merged.indexOf(b));
    const axis = yAxis(inOrder.flatMap(ys), kind === 'fraction');
    const tolerance = NEAR_SHARE * (axis.range[1] - axis.range[0]);
    groups.push({ kind, series: mergeCoinciding(inOrder, tolerance), axis, tolerance });
  };
  const fractions = merged.filter(isFraction);
  if (fractions.length > 0) group('fraction', fractions);
  const others = merged.filter((s) => !isFraction(s)).sort((a, b) => size(a) - size(b));
  let current: Series[] = [];
  const flush = () => {
    if (current.length > 0) group('magnitude', current);
    current = [];
  };
  for (const s of others) {
    if (current.length > 0 && size(s) > 10 * size(current[0])) flush();
    current.push(s);
  }
  flush();
  return { groups, notApplicable };
}
