/**
 * Panoptic Quality (Kirillov et al. 2019) with the semantics of panopticapi's `pq_compute`
 * (cocodataset/panopticapi, panopticapi/evaluation.py), over per-pixel segment-id maps.
 *
 * Per image, a GT and a predicted segment of the same category match when IoU > 0.5 (strictly), where the
 * prediction's pixels on VOID (GT id 0) leave the union: union = |p| + |g| − |p∩g| − |p∩VOID|. Crowd GT segments
 * never match and are never FNs. An unmatched prediction is no FP when more than half of it lies on VOID plus the
 * crowd region of its own category. Over a dataset, per category: PQ = ΣIoU / (TP + ½FP + ½FN), SQ = ΣIoU / TP,
 * RQ = TP / (TP + ½FP + ½FN); All/Things/Stuff average the categories with TP + FP + FN > 0.
 *
 * Deliberate copies of panopticapi details, so numbers agree to the last digit:
 * - per category only the crowd segment listed LAST in segments_info counts as "the" crowd region;
 * - a segment's `iscrowd` counts only when it equals 1.
 * Deliberate departures, all for inputs panopticapi would score silently in a way nobody intends: a GT pixel id
 * missing from segments_info, a GT segment with no pixel, a GT segment of an unknown category, duplicate segment
 * ids and a segment with id 0 are input problems here (panopticapi already refuses these for predictions). An
 * average over no category is 0 with n = 0 (panopticapi divides by zero).
 */
import * as E from 'fp-ts/Either';

/** GT and predicted pixels with this id are unlabelled. */
export const VOID = 0;

export interface PanopticSegment {
  readonly id: number;
  readonly category_id: number;
  /** 1 marks a crowd region (GT only); any other value or none is not a crowd. */
  readonly iscrowd?: number;
}

/** A panoptic map: `ids[y·width + x]` is the pixel's segment id (VOID = 0), `segments` describes every other id. */
export interface PanopticImage {
  readonly width: number;
  readonly height: number;
  readonly ids: Uint32Array;
  readonly segments: readonly PanopticSegment[];
}

export interface PqCategory {
  readonly id: number;
  /** 1 (or true) for countable things, 0 (or false) for stuff, as in the COCO panoptic `categories` list. */
  readonly isthing: number | boolean;
}

/** One category's sums: matched IoUs, true positives, false positives, false negatives. */
export interface PqCounts {
  iou: number;
  tp: number;
  fp: number;
  fn: number;
}

export interface PqClassScores {
  readonly pq: number;
  readonly sq: number;
  readonly rq: number;
}

export interface PqScores extends PqClassScores {
  /** Number of categories averaged: those with TP + FP + FN > 0. */
  readonly n: number;
}

export interface PqResult {
  readonly All: PqScores;
  readonly Things: PqScores;
  readonly Stuff: PqScores;
  /** Every category of the list, keyed by its id; all zeros where TP + FP + FN = 0. */
  readonly per_class: Readonly<Record<string, PqClassScores>>;
}

/** Why an image pair cannot be scored, and on which side. */
export interface PanopticProblem {
  readonly side: 'gt' | 'pred';
  readonly message: string;
}

/** Segment ids `R + 256·G + 256²·B` of an interleaved 8-bit image (alpha, if any, ignored), as panopticapi's rgb2id. */
export function rgbToSegmentIds(img: {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly data: ArrayLike<number>;
}): Uint32Array {
  const n = img.width * img.height;
  const c = img.channels;
  if (c < 3 || img.data.length !== n * c)
    throw new RangeError(`rgbToSegmentIds: ${img.data.length} values for ${img.width}×${img.height}×${c}`);
  const d = img.data;
  const ids = new Uint32Array(n);
  for (let i = 0, j = 0; i < n; i++, j += c) ids[i] = d[j] + 256 * d[j + 1] + 65536 * d[j + 2];
  return ids;
}

const isThing = (c: PqCategory): boolean => c.isthing === 1 || c.isthing === true;

/** Segment id → 1-based index into `segments` (0 is VOID), or a problem. */
interface SegmentIndex {
  /** Index by id for ids below LUT_IDS (−1: not a segment), so that most pixels skip the Map. */
  readonly lut: Int32Array;
  readonly map: ReadonlyMap<number, number>;
}
const LUT_IDS = 1 << 16;

function indexSegments(
  img: PanopticImage,
  side: PanopticProblem['side'],
  known: ReadonlySet<number>,
): E.Either<PanopticProblem, SegmentIndex> {
  const map = new Map<number, number>();
  let maxId = 0;
  for (let k = 0; k < img.segments.length; k++) {
    const s = img.segments[k];
    if (s.id === VOID) return E.left({ side, message: `segment id 0 in segments_info (0 is VOID)` });
    if (map.has(s.id)) return E.left({ side, message: `segment id ${s.id} appears twice in segments_info` });
    if (!known.has(s.category_id))
      return E.left({ side, message: `segment id ${s.id} has unknown category_id ${s.category_id}` });
    map.set(s.id, k + 1);
    maxId = Math.max(maxId, s.id);
  }
  const lut = new Int32Array(Math.min(maxId, LUT_IDS - 1) + 1).fill(-1);
  lut[VOID] = 0;
  for (const [id, k] of map) if (id < lut.length) lut[id] = k;
  return E.right({ lut, map });
}

/**
 * Fills `table[gi·stride + pi]` with the number of pixels where GT segment gi meets predicted segment pi (index 0
 * = VOID). Ids come in runs along a row, so ids are looked up only where one changes (in a table for small ids,
 * else in a Map) and the table is bumped once per run of equal (GT, pred) pairs. Kept free of closures so that V8
 * keeps the loop's state in registers.
 */
function countPairs(
  gIds: Uint32Array,
  pIds: Uint32Array,
  gIndex: SegmentIndex,
  pIndex: SegmentIndex,
  stride: number,
  table: Uint32Array | Map<number, number>,
): PanopticProblem | undefined {
  const n = gIds.length;
  const gLut = gIndex.lut,
    pLut = pIndex.lut;
  let lastG = VOID,
    gi = 0,
    lastP = VOID,
    pi = 0,
    run = 0;
  for (let i = 0; i < n; i++) {
    const g = gIds[i];
    const p = pIds[i];
    if (g === lastG && p === lastP) {
      run++;
      continue;
    }
    if (run > 0) bump(table, gi * stride + pi, run);
    run = 1;
    if (g !== lastG) {
      const k = g < gLut.length ? gLut[g] : (gIndex.map.get(g) ?? -1);
      if (k < 0) return { side: 'gt', message: `segment id ${g} is in the PNG but not in segments_info` };
      lastG = g;
      gi = k;
    }
    if (p !== lastP) {
      const k = p < pLut.length ? pLut[p] : (pIndex.map.get(p) ?? -1);
      if (k < 0) return { side: 'pred', message: `segment id ${p} is in the PNG but not in segments_info` };
      lastP = p;
      pi = k;
    }
  }
  if (run > 0) bump(table, gi * stride + pi, run);
  return undefined;
}

function bump(table: Uint32Array | Map<number, number>, key: number, count: number): void {
  if (table instanceof Uint32Array) table[key] += count;
  else table.set(key, (table.get(key) ?? 0) + count);
}

/**
 * The per-category counts of one image pair (only categories that occur get an entry). One linear pass over the
 * pixels (countPairs) fills a (GT segment × predicted segment) intersection table; the rest works on that table.
 */
export function panopticImageStats(
  gt: PanopticImage,
  pred: PanopticImage,
  categories: readonly PqCategory[],
): E.Either<PanopticProblem, Map<number, PqCounts>> {
  return E.map((r: { stats: Map<number, PqCounts> }) => r.stats)(panopticImageStatsAndAreas(gt, pred, categories));
}

/**
 * `panopticImageStats` plus each GT segment's pixel count, in `gt.segments` order (read off the intersection table,
 * so a caller checking the GT's `area` fields needs no pass of its own over the pixels).
 */
export function panopticImageStatsAndAreas(
  gt: PanopticImage,
  pred: PanopticImage,
  categories: readonly PqCategory[],
): E.Either<PanopticProblem, { stats: Map<number, PqCounts>; gtAreas: Float64Array }> {
  return E.map((m: ImageMatch) => ({ stats: m.stats, gtAreas: m.gArea.subarray(1) }))(matchImage(gt, pred, categories));
}

/**
 * One image pair's matching, segment by segment (indices 1-based into `segments`, 0 = VOID): the per-category counts
 * and, for the rewards that split over pixels, which segments matched (with their IoU), which GT segments count as
 * missed and which predicted ones as false, and every segment's pixel count.
 */
interface ImageMatch {
  readonly stats: Map<number, PqCounts>;
  readonly gIndex: SegmentIndex;
  readonly pIndex: SegmentIndex;
  /** [ng + 1], [np + 1] pixels per segment. */
  readonly gArea: Float64Array;
  readonly pArea: Float64Array;
  /** True positives: GT index, predicted index, IoU. */
  readonly matches: ReadonlyArray<readonly [g: number, p: number, iou: number]>;
  /** GT indices counted as FN; predicted indices counted as FP. */
  readonly missed: readonly number[];
  readonly false: readonly number[];
}

function matchImage(
  gt: PanopticImage,
  pred: PanopticImage,
  categories: readonly PqCategory[],
): E.Either<PanopticProblem, ImageMatch> {
  const n = gt.width * gt.height;
  if (gt.ids.length !== n)
    return E.left({ side: 'gt', message: `${gt.ids.length} pixel ids for ${gt.width}×${gt.height}` });
  if (pred.width !== gt.width || pred.height !== gt.height) {
    return E.left({
      side: 'pred',
      message: `size ${pred.width}×${pred.height} differs from the GT's ${gt.width}×${gt.height}`,
    });
  }
  if (pred.ids.length !== n)
    return E.left({ side: 'pred', message: `${pred.ids.length} pixel ids for ${pred.width}×${pred.height}` });
  const known = new Set(categories.map((c) => c.id));
  const gIndexE = indexSegments(gt, 'gt', known);
  if (E.isLeft(gIndexE)) return gIndexE;
  const pIndexE = indexSegments(pred, 'pred', known);
  if (E.isLeft(pIndexE)) return pIndexE;

  // Table [ng+1 × np+1], row/column 0 = VOID. Dense while small (always, for realistic maps); a Map otherwise.
  const ng = gt.segments.length;
  const np = pred.segments.length;
  const stride = np + 1;
  const size = (ng + 1) * stride;
  const dense = size <= 1 << 22 ? new Uint32Array(size) : undefined;
  const sparse = dense ? undefined : new Map<number, number>();
  const problem = countPairs(gt.ids, pred.ids, gIndexE.right, pIndexE.right, stride, dense ?? sparse!);
  if (problem) return E.left(problem);

  // Non-zero cells as (key, count); key = gi·stride + pi.
  const cells: [number, number][] = [];
  if (dense) {
    for (let k = 0; k < size; k++) if (dense[k] !== 0) cells.push([k, dense[k]]);
  } else {
    for (const kv of sparse!) cells.push(kv);
  }
  const cell = (g: number, p: number): number => (dense ? dense[g * stride + p] : (sparse!.get(g * stride + p) ?? 0));

  const gArea = new Float64Array(ng + 1);
  const pArea = new Float64Array(np + 1);
  for (const [k, c] of cells) {
    gArea[Math.floor(k / stride)] += c;
    pArea[k % stride] += c;
  }
  for (let k = 1; k <= ng; k++) {
    if (gArea[k] === 0)
      return E.left({
        side: 'gt',
        message: `segment id ${gt.segments[k - 1].id} is in segments_info but not in the PNG`,
      });
  }
  for (let k = 1; k <= np; k++) {
    if (pArea[k] === 0)
      return E.left({
        side: 'pred',
        message: `segment id ${pred.segments[k - 1].id} is in segments_info but not in the PNG`,
      });
  }

  const stats = new Map<number, PqCounts>();
  const at = (cat: number): PqCounts => {
    let s = stats.get(cat);
    if (!s) stats.set(cat, (s = { iou: 0, tp: 0, fp: 0, fn: 0 }));
    return s;
  };
  const isCrowd = (g: number): boolean => gt.segments[g - 1].iscrowd === 1;

  // IoU > 0.5 makes every match unique, so the pairs can be taken in any order.
  const gMatched = new Uint8Array(ng + 1);
  const pMatched = new Uint8Array(np + 1);
  const matches: [number, number, number][] = [];
  const missed: number[] = [];
  const falsePositives: number[] = [];
  for (const [k, inter] of cells) {
    const g = Math.floor(k / stride);
    const p = k % stride;
    if (g === 0 || p === 0 || isCrowd(g)) continue;
    const cat = gt.segments[g - 1].category_id;
    if (cat !== pred.segments[p - 1].category_id) continue;
    const iou = inter / (pArea[p] + gArea[g] - inter - cell(0, p));
    if (iou > 0.5) {
      const s = at(cat);
      s.tp += 1;
      s.iou += iou;
      gMatched[g] = 1;
      pMatched[p] = 1;
      matches.push([g, p, iou]);
    }
  }

  const crowdOf = new Map<number, number>(); // category → index of its last-listed crowd segment
  for (let g = 1; g <= ng; g++) {
    if (gMatched[g]) continue;
    const cat = gt.segments[g - 1].category_id;
    if (isCrowd(g)) crowdOf.set(cat, g);
    else {
      at(cat).fn += 1;
      missed.push(g);
    }
  }
  for (let p = 1; p <= np; p++) {
    if (pMatched[p]) continue;
    const cat = pred.segments[p - 1].category_id;
    const crowd = crowdOf.get(cat);
    const ignored = cell(0, p) + (crowd === undefined ? 0 : cell(crowd, p));
    if (ignored / pArea[p] > 0.5) continue;
    at(cat).fp += 1;
    falsePositives.push(p);
  }
  return E.right({
    stats,
    gIndex: gIndexE.right,
    pIndex: pIndexE.right,
    gArea,
    pArea,
    matches,
    missed,
    false: falsePositives,
  });
}

/** panopticapi's pq_average: the categories of one kind (`isthing` undefined = all) with TP + FP + FN > 0. */
export function pqAverage(
  stats: ReadonlyMap<number, PqCounts>,
  categories: readonly PqCategory[],
  isthing?: boolean,
): { scores: PqScores; perClass: Record<string, PqClassScores> } {
  let pq = 0,
    sq = 0,
    rq = 0,
    n = 0;
  const perClass: Record<string, PqClassScores> = {};
  for (const c of categories) {
    if (isthing !== undefined && isThing(c) !== isthing) continue;
    const s = stats.get(c.id);
    if (!s || s.tp + s.fp + s.fn === 0) {
      perClass[String(c.id)] = { pq: 0, sq: 0, rq: 0 };
      continue;
    }
    n += 1;
    const denom = s.tp + 0.5 * s.fp + 0.5 * s.fn;
    const cls = { pq: s.iou / denom, sq: s.tp !== 0 ? s.iou / s.tp : 0, rq: s.tp / denom };
    perClass[String(c.id)] = cls;
    pq += cls.pq;
    sq += cls.sq;
    rq += cls.rq;
  }
  const scores = n === 0 ? { pq: 0, sq: 0, rq: 0, n } : { pq: pq / n, sq: sq / n, rq: rq / n, n };
  return { scores, perClass };
}

const problemText = (p: PanopticProblem): string => `${p.side === 'gt' ? 'ground truth' : 'prediction'}: ${p.message}`;

/** `panopticImageStats`, throwing a RangeError that names `where` for an inconsistent pair. */
function imageStatsOrThrow(
  where: string,
  gt: PanopticImage,
  pred: PanopticImage,
  categories: readonly PqCategory[],
): Map<number, PqCounts> {
  const r = panopticImageStats(gt, pred, categories);
  if (E.isLeft(r)) throw new RangeError(`${where}: ${problemText(r.left)}`);
  return r.right;
}

/** Sums per-category counts over image pairs; `result()` gives the dataset's PQ as panopticapi reports it. */
export class PqAccumulator {
  private readonly stats = new Map<number, PqCounts>();

  constructor(readonly categories: readonly PqCategory[]) {}

  /** Adds one image pair. Throws a RangeError for an inconsistent pair (see `panopticImageStats` to get an Either). */
  add(gt: PanopticImage, pred: PanopticImage): void {
    this.addStats(imageStatsOrThrow('PqAccumulator.add', gt, pred, this.categories));
  }

  addStats(stats: ReadonlyMap<number, PqCounts>): void {
    for (const [cat, s] of stats) {
      const t = this.stats.get(cat);
      if (t) {
        t.iou += s.iou;
        t.tp += s.tp;
        t.fp += s.fp;
        t.fn += s.fn;
      } else {
        this.stats.set(cat, { ...s });
      }
    }
  }

  result(): PqResult {
    const all = pqAverage(this.stats, this.categories);
    return {
      All: all.scores,
      Things: pqAverage(this.stats, this.categories, true).scores,
      Stuff: pqAverage(this.stats, this.categories, false).scores,
      per_class: all.perClass,
    };
  }
}

/** PQ over a dataset of (GT, prediction) pairs. Throws a RangeError for an inconsistent pair. */
export function pqCompute(
  pairs: Iterable<readonly [PanopticImage, PanopticImage]>,
  categories: readonly PqCategory[],
): PqResult {
  const acc = new PqAccumulator(categories);
  for (const [gt, pred] of pairs) acc.add(gt, pred);
  return acc.result();
}

/**
 * PQ of one image, the panoptic reward: the mean of per-category PQ over the categories with TP + FP + FN > 0 in
 * this image (those present in its GT or prediction, crowd-only and fully ignored ones aside); 0 when none counts.
 * The paper does not publish its per-image definition; this choice is panopticapi's "All" PQ on a one-image
 * dataset, so it needs no statistics beyond the image. Throws a RangeError for an inconsistent pair.
 */
export function imagePq(gt: PanopticImage, pred: PanopticImage, categories: readonly PqCategory[]): number {
  return pqAverage(imageStatsOrThrow('imagePq', gt, pred, categories), categories).scores.pq;
}

/**
 * Linearised dataset-PQ gain of one image, a project-defined reward (not panopticapi's): to first order, what the
 * image adds to a dataset's PQ whose categories stand at the reference PQ q (one value for things, one for stuff),
 * (1/K) Σ_c [Σ IoU_c − q_c·(TP_c + ½FP_c + ½FN_c)] over the K categories of the list (panopticapi's matches and
 * counts). Dataset PQ = mean_c I_c / D_c moves by (ΔI_c − PQ_c·ΔD_c) / D_c when one image's counts change, so a
 * segment is priced at its own kind's PQ: a failed attempt at a thing (an FP beside the FN) costs q_things/2, which
 * is little while things score low, where a per-image PQ prices it at the image's level, set mostly by its stuff.
 * The per-category D_c are taken as equal (the image's scale is the estimator's business). Not in [0, 1]: a sample
 * scores above another when it adds more to the dataset's PQ. Throws a RangeError for an inconsistent pair.
 */
export function imagePqGain(
  gt: PanopticImage,
  pred: PanopticImage,
  categories: readonly PqCategory[],
  reference: { readonly things: number; readonly stuff: number },
): number {
  return gainOf(imageStatsOrThrow('imagePqGain', gt, pred, categories), categories, reference);
}

/** `imagePqGain` from one image's per-category counts. */
function gainOf(
  stats: ReadonlyMap<number, PqCounts>,
  categories: readonly PqCategory[],
  reference: { readonly things: number; readonly stuff: number },
): number {
  let gain = 0;
  for (const c of categories) {
    const s = stats.get(c.id);
    if (!s) continue;
    const q = isThing(c) ? reference.things : reference.stuff;
    gain += s.iou - q * (s.tp + 0.5 * s.fp + 0.5 * s.fn);
  }
  return categories.length > 0 ? gain / categories.length : 0;
}

/**
 * `imagePqGain` (`gain`, the same number) and its split over the pixels (`pixels`, [height·width] row-major, summing
 * to it up to rounding), from one matching of the pair: each segment's term spread evenly over its own pixels. A
 * match's IoU − q goes half to the GT segment's pixels and half to the predicted one's; a missed GT segment's −q/2 to
 * its pixels; a false prediction's −q/2 to its pixels (all over K). What a region of the image contributes, for
 * rewards that credit each part of an output with its own region (a UViM code token with the pixels it is decoded
 * into). Throws a RangeError for an inconsistent pair.
 */
export function imagePqGainMap(
  gt: PanopticImage,
  pred: PanopticImage,
  categories: readonly PqCategory[],
  reference: { readonly things: number; readonly stuff: number },
): { gain: number; pixels: Float64Array } {
  const r = matchImage(gt, pred, categories);
  if (E.isLeft(r)) throw new RangeError(`imagePqGainMap: ${problemText(r.left)}`);
  const m = r.right;
  const n = gt.width * gt.height;
  const pixels = new Float64Array(n);
  const gain = gainOf(m.stats, categories, reference);
  const K = categories.length;
  if (K === 0) return { gain, pixels };
  const thing = new Map(categories.map((c) => [c.id, isThing(c)]));
  /** A segment's q over K, by its category. */
  const q = (cat: number) => (thing.get(cat) ? reference.things : reference.stuff) / K;
  // Each segment's share per pixel (index 0, VOID, gets none).
  const gShare = new Float64Array(m.gArea.length);
  const pShare = new Float64Array(m.pArea.length);
  for (const [g, p, iou] of m.matches) {
    const half = (iou / K - q(gt.segments[g - 1].category_id)) / 2;
    gShare[g] += half / m.gArea[g];
    pShare[p] += half / m.pArea[p];
  }
  for (const g of m.missed) gShare[g] -= q(gt.segments[g - 1].category_id) / 2 / m.gArea[g];
  for (const p of m.false) pShare[p] -= q(pred.segments[p - 1].category_id) / 2 / m.pArea[p];
  const index = (ix: SegmentIndex, id: number) => (id < ix.lut.length ? ix.lut[id] : (ix.map.get(id) as number));
  for (let i = 0; i < n; i++) pixels[i] = gShare[index(m.gIndex, gt.ids[i])] + pShare[index(m.pIndex, pred.ids[i])];
  return { gain, pixels };
}
