/**
 * pycocotools' `COCOeval.summarize()` for boxes: the 12 standard statistics (AP, AP50, AP75, APs, APm, APl, AR1,
 * AR10, AR100, ARs, ARm, ARl) read off the accumulated precision [T, R, K, A, M] and recall [T, K, A, M] arrays, each
 * the mean of the entries > -1 (or -1 when there are none), plus AP@[.5:.95] per category.
 */
import {
  COCO_AREA_LABELS,
  COCO_AREA_RANGES,
  COCO_IOU_THRESHOLDS,
  COCO_MAX_DETS,
  COCO_RECALL_THRESHOLDS,
} from './coco-eval-types';

const R = COCO_RECALL_THRESHOLDS.length;
const A = COCO_AREA_RANGES.length;
const M = COCO_MAX_DETS.length;

/** Mean of the entries > -1, or -1 when there are none (summarize's `np.mean(s[s>-1])`). */
function meanValid(values: Iterable<number>): number {
  let sum = 0;
  let n = 0;
  for (const v of values) {
    if (v > -1) {
      sum += v;
      n++;
    }
  }
  return n === 0 ? -1 : sum / n;
}

/** summarize()'s 12 stats, plus AP@[.5:.95] (area all, maxDets 100) of each category index. */
export function summarize(
  precision: Float64Array,
  recall: Float64Array,
  K: number,
): { stats: number[]; perCategoryAp: number[] } {
  const tIndex = (thr: number | undefined): number[] => {
    if (thr === undefined) return [...COCO_IOU_THRESHOLDS.keys()];
    // pycocotools selects the threshold by exact equality with the linspace double.
    return [...COCO_IOU_THRESHOLDS.keys()].filter((t) => COCO_IOU_THRESHOLDS[t] === thr);
  };
  const aIndex = (label: string): number => COCO_AREA_LABELS.indexOf(label);
  const mIndex = (maxDets: number): number => COCO_MAX_DETS.indexOf(maxDets);
  function* ap(ts: number[], a: number, m: number, ks: Iterable<number>): Generator<number> {
    const kList = [...ks];
    for (const t of ts)
      for (let r = 0; r < R; r++) for (const k of kList) yield precision[(((t * R + r) * K + k) * A + a) * M + m];
  }
  function* ar(ts: number[], a: number, m: number): Generator<number> {
    for (const t of ts) for (let k = 0; k < K; k++) yield recall[((t * K + k) * A + a) * M + m];
  }
  const allK = [...Array(K).keys()];
  const APs = (thr: number | undefined, area: string, maxDets: number): number =>
    meanValid(ap(tIndex(thr), aIndex(area), mIndex(maxDets), allK));
  const ARs = (area: string, maxDets: number): number =>
    meanValid(ar(tIndex(undefined), aIndex(area), mIndex(maxDets)));
  const [m1, m10, m100] = COCO_MAX_DETS;
  const stats = [
    APs(undefined, 'all', m100),
    APs(0.5, 'all', m100),
    APs(0.75, 'all', m100),
    APs(undefined, 'small', m100),
    APs(undefined, 'medium', m100),
    APs(undefined, 'large', m100),
    ARs('all', m1),
    ARs('all', m10),
    ARs('all', m100),
    ARs('small', m100),
    ARs('medium', m100),
    ARs('large', m100),
  ];
  const perCategoryAp = allK.map((k) => meanValid(ap(tIndex(undefined), aIndex('all'), mIndex(m100), [k])));
  return { stats, perCategoryAp };
}
