/**
 * The detection reward of "Tuning computer vision models with task rewards" (big_vision
 * `configs/proj/reward_tune/detection_reward.py`, `_reward_fn_thr` and `reward_fn`), for one image and one sampled
 * set of boxes, over typed arrays.
 *
 * Per IoU threshold t (0.50:0.05:0.95):
 * - IoU[p, g] (abs areas, denominator a1 + a2 − inter + 1e-9), zeroed where IoU ≤ t, either box is null (conf 0) or
 *   the classes differ;
 * - each prediction keeps only its argmax GT column (ties → lowest GT index);
 * - each GT is matched to its best prediction (ties → earliest prediction) when that IoU is > 0;
 * - reward_t = Σ_{matched g} w[class_g] − 0.3 · Σ_{p with a kept IoU that is not its GT's match} w[class_p]
 *   (duplicates are penalised; predictions overlapping no GT are not, unless `falsePositiveWeight` > 0, our
 *   extension, adds − λ · Σ_{real p with no same-class GT above correctThreshold} w[class_p] to every reward_t).
 * reward = mean of reward_t; `correct` (2 matched, 1 unmatched, 0 null) and `matchIou` at t = 0.5.
 *
 * The released code keys its per-threshold results by f"{t:0.1f}", so thresholds collide and the last one written
 * wins: its mean weights {0.5:1, 0.6:2, 0.7:2, 0.85:3, 0.95:2}/10. That is `rewardReleased`; `reward` is the intended
 * plain mean. The reference computes in float32 (JAX default); this is float64, so IoUs within float32 rounding of a
 * threshold can fall on the other side.
 *
 * Speed: thresholding only removes entries, so a prediction's argmax column is the same at every threshold where it
 * survives; it is found once (O(P·G)) and each threshold then costs O(P + G).
 */

/** COCO train2017 instance counts of the 80 detection classes, in category order (big_vision `CLS_COUNTS`). */
export const COCO_TRAIN_CLASS_COUNTS: readonly number[] = [
  262465, 7113, 43867, 8725, 5135, 6069, 4571, 9973, 10759, 12884, 1865, 1983, 1285, 9838, 10806, 4768, 5508, 6587,
  9509, 8147, 5513, 1294, 5303, 5131, 8720, 11431, 12354, 6496, 6192, 2682, 6646, 2685, 6347, 9076, 3276, 3747, 5543,
  6126, 4812, 24342, 7913, 20650, 5479, 7770, 6165, 14358, 9458, 5851, 4373, 6399, 7308, 7852, 2918, 5821, 7179, 6353,
  38491, 5779, 8652, 4192, 15714, 4157, 5805, 4970, 2262, 5703, 2855, 6434, 1673, 3334, 225, 5610, 2637, 24715, 6334,
  6613, 1481, 4793, 198, 1954,
];

export const DEFAULT_IOU_THRESHOLDS: readonly number[] = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95];

/** K boxes of one image. */
export interface Boxes {
  /** [K, 4]: normalised [ymin, xmin, ymax, xmax]. */
  readonly boxes: Float64Array | Float32Array;
  /** [K]: class index (into the class weights when given). */
  readonly classes: Int32Array | Uint8Array | Uint16Array;
  /** [K]: confidence; 0 marks a null (padding) slot. Absent: every box is real. */
  readonly confs?: Float64Array | Float32Array | Int32Array | Uint8Array;
}

/** Boxes from plain objects (e.g. parsed JSON); `conf` absent means a real box. */
export function boxesFromObjects(
  list: ReadonlyArray<{ readonly box: readonly number[]; readonly class: number; readonly conf?: number }>,
): Boxes {
  const K = list.length;
  const boxes = new Float64Array(K * 4);
  const classes = new Int32Array(K);
  const confs = new Float64Array(K);
  list.forEach((o, k) => {
    boxes.set(o.box, 4 * k);
    classes[k] = o.class;
    confs[k] = o.conf ?? 1;
  });
  return { boxes, classes, confs };
}

export interface DetectionRewardOptions {
  /** [C]: weight of each class (see `classWeights`). Absent: every class weighs 1. */
  readonly classWeights?: Float64Array;
  readonly thresholds?: readonly number[];
  /** Weight of the duplicate penalty (paper: 0.3). */
  readonly nmsWeight?: number;
  /**
   * Weight of a penalty, not in the paper, for each real prediction that overlaps no ground-truth box of its class
   * above `correctThreshold` (on no object, or with the wrong class), class-weighted like the duplicate penalty and
   * charged at every threshold. Default 0: the paper's reward, which charges such boxes nothing.
   */
  readonly falsePositiveWeight?: number;
  /** Threshold at which `correct` and `matchIou` are taken (paper: 0.5). */
  readonly correctThreshold?: number;
}

export interface DetectionRewardResult {
  /** Mean of `perThreshold.reward` over the thresholds (the intended reward). */
  readonly reward: number;
  /** The released code's mean, with its f"{t:0.1f}" key collisions (see `releasedThresholdWeights`). */
  readonly rewardReleased: number;
  readonly perThreshold: {
    /** [T] */
    readonly reward: Float64Array;
    /** [T]: number of matched GT boxes. */
    readonly numMatches: Int32Array;
    /** [T]: class-weighted count of duplicates (before × nmsWeight). */
    readonly nmsPenalty: Float64Array;
  };
  /** [P]: 2 matched, 1 real but unmatched, 0 null slot (at `correctThreshold`). */
  readonly correct: Uint8Array;
  /** [P]: IoU with the prediction's argmax GT when above `correctThreshold`, else 0. */
  readonly matchIou: Float64Array;
}

/**
 * Class weights from training instance counts: w_c = 1/(count_c + smooth·Σcount), normalised to mean 1 over the
 * classes (paper: smooth = 0.05; COCO person → 0.165, rarest → 1.166).
 */
export function classWeights(counts: ArrayLike<number>, smooth = 0.05): Float64Array {
  const C = counts.length;
  let total = 0;
  for (let c = 0; c < C; c++) total += counts[c];
  const w = new Float64Array(C);
  let sum = 0;
  for (let c = 0; c < C; c++) {
    w[c] = 1 / (counts[c] + smooth * total);
    sum += w[c];
  }
  for (let c = 0; c < C; c++) w[c] = (C * w[c]) / sum;
  return w;
}

/** Python's f"{x:0.1f}": round-half-even on the exact binary value (JS toFixed rounds exact halves up). */
function pyFormat1(x: number): string {
  const q = x * 4; // exact: the only binary values exactly halfway between tenths are odd multiples of 0.25
  if (Number.isInteger(q) && Math.abs(q % 2) === 1) {
    const lo = Math.floor(x * 10);
    return ((lo % 2 === 0 ? lo : lo + 1) / 10).toFixed(1);
  }
  return x.toFixed(1);
}

/**
 * [T]: the weight the released `reward_fn` gives each threshold. It stores results under f"{t:0.1f}" (later
 * thresholds overwrite earlier ones with the same key) and then averages the T looked-up values, so threshold j gets
 * (number of thresholds sharing its key)/T if it is the last with that key, else 0.
 */
export function releasedThresholdWeights(thresholds: readonly number[]): Float64Array {
  const last = new Map<string, number>();
  thresholds.forEach((t, j) => last.set(pyFormat1(t), j));
  const w = new Float64Array(thresholds.length);
  for (const t of thresholds) w[last.get(pyFormat1(t)) as number] += 1 / thresholds.length;
  return w;
}

// Module-level aliases: inside a vm context (Jest) every global lookup such as `Math.max` in a hot loop goes through
// the context's interceptor and costs ~100× more.
const { abs, max, min } = Math;

const releasedCache = new WeakMap<readonly number[], Float64Array>();

/** IoU of prediction p and ground-truth box g as the reference computes it: abs areas, + 1e-9 in the denominator. */
function iou(pb: ArrayLike<number>, p: number, gb: ArrayLike<number>, g: number): number {
  // Plain reads: this runs ~100,000 times an update, and V8 does not always remove a destructured array literal.
  const py0 = pb[4 * p],
    px0 = pb[4 * p + 1],
    py1 = pb[4 * p + 2],
    px1 = pb[4 * p + 3];
  const gy0 = gb[4 * g],
    gx0 = gb[4 * g + 1],
    gy1 = gb[4 * g + 2],
    gx1 = gb[4 * g + 3];
  const a1 = abs((py1 - py0) * (px1 - px0));
  const a2 = abs((gy1 - gy0) * (gx1 - gx0));
  const yi = max(0, min(py1, gy1) - max(py0, gy0));
  const xi = max(0, min(px1, gx1) - max(px0, gx0));
  const inter = xi * yi;
  return inter / (a1 + a2 - inter + 1e-9);
}

/**
 * Whether prediction p of `pred` is real and overlaps (IoU > 0) a real ground-truth box of its class: the
 * predictions that can match or be duplicates at some threshold. Any other real prediction moves the reward only
 * through its class (the `falsePositiveWeight` charge), so a caller scoring many edits of one box may score one
 * such edit per class and reuse its reward.
 */
export function overlapsOwnClass(pred: Boxes, p: number, gt: Boxes): boolean {
  if (pred.confs && !(pred.confs[p] > 0)) return false;
  for (let g = 0; g < gt.classes.length; g++) {
    if (gt.classes[g] !== pred.classes[p] || (gt.confs && !(gt.confs[g] > 0))) continue;
    if (iou(pred.boxes, p, gt.boxes, g) > 0) return true;
  }
  return false;
}

/**
 * The working arrays of one reward computation for P predictions, G ground-truth boxes and T thresholds. Made once
 * per (P, G, T) and reused: the `expected` estimator scores tens of thousands of edited box sets an update, and
 * allocating a dozen small typed arrays for each took longer than the arithmetic.
 */
interface Work {
  readonly wGt: Float64Array;
  readonly bestG: Int32Array;
  readonly bestIou: Float64Array;
  readonly real: Uint8Array;
  readonly cand: Int32Array;
  readonly wCand: Float64Array;
  readonly correct: Uint8Array;
  readonly matchIou: Float64Array;
  readonly rewardT: Float64Array;
  readonly numMatches: Int32Array;
  readonly nmsPenalty: Float64Array;
  readonly winner: Int32Array;
  readonly winIou: Float64Array;
}
const works = new Map<string, Work>();
function workFor(P: number, G: number, T: number): Work {
  const key = `${P},${G},${T}`;
  let w = works.get(key);
  if (w === undefined) {
    if (works.size > 256) works.clear(); // many image sizes: keep the cache small
    w = {
      wGt: new Float64Array(G),
      bestG: new Int32Array(P),
      bestIou: new Float64Array(P),
      real: new Uint8Array(P),
      cand: new Int32Array(P),
      wCand: new Float64Array(P),
      correct: new Uint8Array(P),
      matchIou: new Float64Array(P),
      rewardT: new Float64Array(T),
      numMatches: new Int32Array(T),
      nmsPenalty: new Float64Array(T),
      winner: new Int32Array(G),
      winIou: new Float64Array(G),
    };
    works.set(key, w);
  }
  return w;
}

/** The reward of one sampled set of boxes `pred` (P slots) against the image's ground truth `gt` (G boxes). */
export function detectionReward(pred: Boxes, gt: Boxes, opts: DetectionRewardOptions = {}): DetectionRewardResult {
  const { reward, rewardReleased, work } = compute(pred, gt, opts);
  return {
    reward,
    rewardReleased,
    perThreshold: {
      reward: work.rewardT.slice(),
      numMatches: work.numMatches.slice(),
      nmsPenalty: work.nmsPenalty.slice(),
    },
    correct: work.correct.slice(),
    matchIou: work.matchIou.slice(),
  };
}

/**
 * `detectionReward(pred, gt, opts).reward` (`.rewardReleased` with `released`), the same number, without building
 * the per-box and per-threshold results: for callers that score many box sets and need only the reward.
 */
export function detectionRewardValue(
  pred: Boxes,
  gt: Boxes,
  opts: DetectionRewardOptions = {},
  released = false,
): number {
  const r = compute(pred, gt, opts);
  return released ? r.rewardReleased : r.reward;
}

/** The reward and the working arrays it leaves behind (valid until the next call). */
function compute(
  pred: Boxes,
  gt: Boxes,
  opts: DetectionRewardOptions,
): { readonly reward: number; readonly rewardReleased: number; readonly work: Work } {
  const thresholds = opts.thresholds ?? DEFAULT_IOU_THRESHOLDS;
  const nmsWeight = opts.nmsWeight ?? 0.3;
  const fpWeight = opts.falsePositiveWeight ?? 0;
  const correctThr = opts.correctThreshold ?? 0.5;
  const weights = opts.classWeights;
  const P = pred.classes.length;
  const G = gt.classes.length;
  if (pred.boxes.length !== 4 * P || gt.boxes.length !== 4 * G)
    throw new Error('detectionReward: boxes must be [K, 4] for K classes');
  const weightOf = (c: number): number => {
    if (!weights) return 1;
    if (!(c >= 0 && c < weights.length)) throw new Error(`detectionReward: class ${c} has no weight`);
    return weights[c];
  };
  const T = thresholds.length;
  const work = workFor(P, G, T);
  const { wGt, bestG, bestIou, real, cand, wCand, correct, matchIou, rewardT, numMatches, nmsPenalty, winner, winIou } =
    work;
  for (let g = 0; g < G; g++) wGt[g] = weightOf(gt.classes[g]);

  // Each real prediction's argmax column over real, same-class GT boxes (first index on ties).
  bestG.fill(-1);
  bestIou.fill(0);
  real.fill(0);
  let nCand = 0;
  const [pb, pcls, pconf] = [pred.boxes, pred.classes, pred.confs];
  const [gb, gcls, gconf] = [gt.boxes, gt.classes, gt.confs];
  for (let p = 0; p < P; p++) {
    if (pconf && !(pconf[p] > 0)) continue;
    real[p] = 1;
    const cls = pcls[p];
    let best = 0;
    let arg = -1;
    for (let g = 0; g < G; g++) {
      if (gcls[g] !== cls || (gconf && !(gconf[g] > 0))) continue;
      const v = iou(pb, p, gb, g);
      if (v > best) {
        best = v;
        arg = g;
      }
    }
    bestIou[p] = best;
    bestG[p] = arg;
    if (arg >= 0) {
      // Only predictions with some same-class overlap can match or be duplicates at any threshold.
      cand[nCand] = p;
      wCand[nCand++] = weightOf(cls);
    }
  }

  // Each real prediction's outcome at the correct threshold; the unmatched ones, class-weighted, are what
  // falsePositiveWeight charges (the same at every threshold).
  correct.fill(0);
  matchIou.fill(0);
  let falsePositives = 0;
  for (let p = 0; p < P; p++) {
    if (!real[p]) continue;
    const hit = bestIou[p] > correctThr;
    correct[p] = hit ? 2 : 1;
    matchIou[p] = hit ? bestIou[p] : 0;
    if (!hit && fpWeight !== 0) falsePositives += weightOf(pcls[p]);
  }

  numMatches.fill(0);
  for (let t = 0; t < T; t++) {
    const thr = thresholds[t];
    winner.fill(-1);
    winIou.fill(0);
    for (let c = 0; c < nCand; c++) {
      const p = cand[c];
      if (!(bestIou[p] > thr)) continue;
      const g = bestG[p];
      if (bestIou[p] > winIou[g]) {
        winIou[g] = bestIou[p];
        winner[g] = p;
      }
    }
    let match = 0;
    for (let g = 0; g < G; g++) {
      if (winner[g] < 0) continue;
      match += wGt[g];
      numMatches[t]++;
    }
    let nms = 0;
    for (let c = 0; c < nCand; c++) {
      const p = cand[c];
      if (bestIou[p] > thr && winner[bestG[p]] !== p) nms += wCand[c];
    }
    nmsPenalty[t] = nms;
    rewardT[t] = match - nmsWeight * nms - fpWeight * falsePositives;
  }

  let released = releasedCache.get(thresholds);
  if (!released) {
    released = releasedThresholdWeights(thresholds);
    releasedCache.set(thresholds, released);
  }
  let sum = 0;
  let sumReleased = 0;
  for (let t = 0; t < T; t++) {
    sum += rewardT[t];
    sumReleased += released[t] * rewardT[t];
  }
  return { reward: T === 0 ? 0 : sum / T, rewardReleased: sumReleased, work };
}
