/**
 * COCO box mAP with the semantics of pycocotools `COCOeval(iouType='bbox')` — evaluate(), accumulate() and
 * summarize() — reproduced decision for decision so that every statistic agrees to 1e-9 (golden fixtures in
 * src/__fixtures__/coco were printed by pycocotools itself). evaluate() and accumulate() run here as one pass over
 * flat typed arrays; summarize() is in coco-summarize.ts, the inputs, result and parameters in coco-eval-types.ts.
 *
 * Dimension legend: T IoU thresholds (10), R recall thresholds (101), K categories, A area ranges (4),
 * M maxDets settings (3), I images, G ground-truth boxes of one (image, category), D detections of one
 * (image, category).
 *
 * pycocotools behaviours kept on purpose (each one changes numbers):
 * - Only the GT's images and categories are evaluated: GT annotations of other images or categories and detections
 *   of other categories are dropped. A detection of an image that is not in the GT is an error (loadRes asserts).
 * - A GT annotation's `ignore` field has NO effect: `_prepare` overwrites it with `iscrowd`.
 * - Area ranges use the GT's `area` field, both ends inclusive; an unmatched detection is ignored when its w·h is
 *   outside the range. Boxes are x, y, w, h; IoU is maskUtils' bbIou (no +1; a crowd GT divides by the detection's
 *   area and may be matched by any number of detections, which are then ignored).
 * - Detections are ranked per (image, category) by a stable sort on −score and cut to 100 before matching; the
 *   maxDets 1 and 10 settings reuse that matching and keep the first 1 or 10.
 * - A detection matched to a GT whose annotation id is 0 counts as unmatched (pycocotools stores the matched id and
 *   tests it against 0).
 * - Thresholds are the exact doubles of np.linspace; recall is sampled with np.searchsorted(side='left') on the
 *   precision envelope; settings without GT read -1.
 * Deviations, both about inputs pycocotools does not handle: an empty detection list is evaluated as "no
 * detections" (loadRes crashes on it) — every setting with GT reads 0, without GT -1; duplicate GT annotation ids
 * are an error (pycocotools silently evaluates one annotation twice).
 */

import {
  COCO_AREA_RANGES,
  COCO_IOU_THRESHOLDS,
  COCO_MAX_DETS,
  COCO_RECALL_THRESHOLDS,
  CocoInputError,
  type CocoDetection,
  type CocoEvalResult,
  type CocoGroundTruth,
} from './coco-eval-types';
import { summarize } from './coco-summarize';

export {
  COCO_AREA_LABELS,
  COCO_AREA_RANGES,
  COCO_IOU_THRESHOLDS,
  COCO_MAX_DETS,
  COCO_RECALL_THRESHOLDS,
  CocoInputError,
  npLinspace,
  type CocoAnnotation,
  type CocoCategory,
  type CocoDetection,
  type CocoEvalResult,
  type CocoGroundTruth,
  type CocoImage,
} from './coco-eval-types';

const T = COCO_IOU_THRESHOLDS.length;
const R = COCO_RECALL_THRESHOLDS.length;
const A = COCO_AREA_RANGES.length;
const M = COCO_MAX_DETS.length;
const MAX_DET = COCO_MAX_DETS[M - 1];

// Per (detection, area range, threshold) outcome of matching.
const TP = 1;
const FP = 2;
const IGNORED = 0;

function sortedUnique(values: Iterable<number>): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/**
 * Buckets items by key (0..nKeys-1, or -1 to drop) keeping their input order inside a bucket: returns the items in
 * key order and the bucket boundaries (`start[key]..start[key+1]`).
 */
function bucket(keys: Int32Array, nKeys: number): { order: Int32Array; start: Int32Array } {
  const start = new Int32Array(nKeys + 1);
  for (let j = 0; j < keys.length; j++) if (keys[j] >= 0) start[keys[j] + 1]++;
  for (let k = 0; k < nKeys; k++) start[k + 1] += start[k];
  const fill = start.slice(0, nKeys);
  const order = new Int32Array(start[nKeys]);
  for (let j = 0; j < keys.length; j++) if (keys[j] >= 0) order[fill[keys[j]]++] = j;
  return { order, start };
}

/** Runs pycocotools' evaluate + accumulate + summarize for boxes. Throws CocoInputError for unusable input. */
export function cocoEvaluate(gt: CocoGroundTruth, dets: readonly CocoDetection[]): CocoEvalResult {
  const imgIds = sortedUnique(gt.images.map((im) => im.id));
  const catIds = sortedUnique(gt.categories.map((c) => c.id));
  const I = imgIds.length;
  const K = catIds.length;
  const imgIndex = new Map(imgIds.map((id, i) => [id, i]));
  const catIndex = new Map(catIds.map((id, k) => [id, k]));
  const nGroups = K * I; // group key = k·I + i: a category's groups are contiguous and in image-id order

  const seen = new Set<number>();
  for (const [j, ann] of gt.annotations.entries()) {
    if (seen.has(ann.id))
      throw new CocoInputError('gt', `field "annotations[${j}].id": duplicate annotation id ${ann.id}`);
    seen.add(ann.id);
  }
  const dtKeys = new Int32Array(dets.length);
  for (let j = 0; j < dets.length; j++) {
    const i = imgIndex.get(dets[j].image_id);
    if (i === undefined)
      throw new CocoInputError('dt', `field "[${j}].image_id": image ${dets[j].image_id} is not in the ground truth`);
    const k = catIndex.get(dets[j].category_id);
    dtKeys[j] = k === undefined ? -1 : k * I + i;
  }
  const gtKeys = new Int32Array(gt.annotations.length);
  for (let j = 0; j < gtKeys.length; j++) {
    const a = gt.annotations[j];
    const i = imgIndex.get(a.image_id);
    const k = catIndex.get(a.category_id);
    gtKeys[j] = i === undefined || k === undefined ? -1 : k * I + i;
  }
  const gtB = bucket(gtKeys, nGroups);
  const dtB = bucket(dtKeys, nGroups);

  // Flat copies in bucket order, so the inner loops touch typed arrays only.
  const nG = gtB.order.length;
  const gtBox = new Float64Array(4 * nG);
  const gtArea = new Float64Array(nG);
  const gtCrowd = new Uint8Array(nG);
  const gtIdZero = new Uint8Array(nG);
  for (let g = 0; g < nG; g++) {
    const a = gt.annotations[gtB.order[g]];
    for (let c = 0; c < 4; c++) gtBox[4 * g + c] = a.bbox[c];
    gtArea[g] = a.area;
    gtCrowd[g] = a.iscrowd ? 1 : 0;
    gtIdZero[g] = a.id === 0 ? 1 : 0;
  }
  const nD = dtB.order.length;
  const dtBox = new Float64Array(4 * nD);
  const dtScore = new Float64Array(nD);
  for (let d = 0; d < nD; d++) {
    const det = dets[dtB.order[d]];
    for (let c = 0; c < 4; c++) dtBox[4 * d + c] = det.bbox[c];
    dtScore[d] = det.score;
  }
  // Descending score, then input order: the order of numpy's stable mergesort on −score.
  const byScore = (x: number, y: number): number =>
    dtScore[x] !== dtScore[y] ? (dtScore[x] > dtScore[y] ? -1 : 1) : x - y;

  // Kept detections (≤ 100 per group), in group order then in-group rank: per-slot score, rank and outcomes.
  const keptScore = new Float64Array(nD);
  const keptRank = new Int32Array(nD);
  const outcome = new Uint8Array(nD * A * T); // [slot, A, T]
  const catKeptStart = new Int32Array(K + 1);
  const npig = new Int32Array(K * A); // GT boxes not ignored, per (category, area range)
  let nKept = 0;

  let maxG = 0;
  for (let q = 0; q < nGroups; q++) maxG = Math.max(maxG, gtB.start[q + 1] - gtB.start[q]);
  const dtIdx = new Int32Array(MAX_DET);
  let rankBuf = new Int32Array(256);
  let iou = new Float64Array(256);
  const perm = new Int32Array(maxG); // GT in pycocotools' order for one area range: not ignored first, stable
  const gtIgS = new Uint8Array(maxG);
  const crowdS = new Uint8Array(maxG);
  const gtm = new Uint8Array(maxG);
  const dtAreaOut = new Uint8Array(MAX_DET);

  for (let k = 0; k < K; k++) {
    catKeptStart[k] = nKept;
    for (let i = 0; i < I; i++) {
      const q = k * I + i;
      const g0 = gtB.start[q];
      const G = gtB.start[q + 1] - g0;
      const d0 = dtB.start[q];
      const nDq = dtB.start[q + 1] - d0;
      if (G === 0 && nDq === 0) continue;

      // Rank this group's detections and keep the top MAX_DET.
      if (rankBuf.length < nDq) rankBuf = new Int32Array(nDq);
      const ranked = rankBuf.subarray(0, nDq);
      for (let d = 0; d < nDq; d++) ranked[d] = d0 + d;
      ranked.sort(byScore);
      const D = Math.min(nDq, MAX_DET);
      for (let d = 0; d < D; d++) dtIdx[d] = ranked[d];

      // IoU [D, G], maskUtils.bbIou.
      if (iou.length < D * G) iou = new Float64Array(D * G);
      for (let d = 0; d < D; d++) {
        const b = 4 * dtIdx[d];
        const dx = dtBox[b],
          dy = dtBox[b + 1],
          dw = dtBox[b + 2],
          dh = dtBox[b + 3];
        const da = dw * dh;
        for (let g = 0; g < G; g++) {
          const c = 4 * (g0 + g);
          const gx = gtBox[c],
            gy = gtBox[c + 1],
            gw = gtBox[c + 2],
            gh = gtBox[c + 3];
          let v = 0;
          const w = Math.min(dw + dx, gw + gx) - Math.max(dx, gx);
          if (w > 0) {
            const h = Math.min(dh + dy, gh + gy) - Math.max(dy, gy);
            if (h > 0) {
              const inter = w * h;
              v = inter / (gtCrowd[g0 + g] ? da : da + gw * gh - inter);
            }
          }
          iou[d * G + g] = v;
        }
      }

      for (let d = 0; d < D; d++) {
        keptScore[nKept + d] = dtScore[dtIdx[d]];
        keptRank[nKept + d] = d;
      }
      for (let a = 0; a < A; a++) {
        const [lo, hi] = COCO_AREA_RANGES[a];
        if (G === 0) {
          // Nothing to match: a detection is a false positive, or ignored when its area is outside the range.
          for (let d = 0; d < D; d++) {
            const b = 4 * dtIdx[d];
            const da = dtBox[b + 2] * dtBox[b + 3];
            outcome.fill(da < lo || da > hi ? IGNORED : FP, ((nKept + d) * A + a) * T, ((nKept + d) * A + a + 1) * T);
          }
          continue;
        }
        let n = 0;
        for (let g = 0; g < G; g++) {
          const ar = gtArea[g0 + g];
          if (!(gtCrowd[g0 + g] || ar < lo || ar > hi)) perm[n++] = g;
        }
        npig[k * A + a] += n;
        for (let g = 0; g < G; g++) {
          const ar = gtArea[g0 + g];
          if (gtCrowd[g0 + g] || ar < lo || ar > hi) perm[n++] = g;
        }
        for (let j = 0; j < G; j++) {
          const g = g0 + perm[j];
          const ar = gtArea[g];
          gtIgS[j] = gtCrowd[g] || ar < lo || ar > hi ? 1 : 0;
          crowdS[j] = gtCrowd[g];
        }
        for (let d = 0; d < D; d++) {
          const b = 4 * dtIdx[d];
          const da = dtBox[b + 2] * dtBox[b + 3];
          dtAreaOut[d] = da < lo || da > hi ? 1 : 0;
        }
        for (let t = 0; t < T; t++) {
          const thr = Math.min(COCO_IOU_THRESHOLDS[t], 1 - 1e-10);
          for (let j = 0; j < G; j++) gtm[j] = 0;
          for (let d = 0; d < D; d++) {
            let best = thr;
            let m = -1;
            const row = d * G;
            for (let j = 0; j < G; j++) {
              if (gtm[j] && !crowdS[j]) continue;
              // Once matched to a regular GT, ignored GTs (sorted last) cannot take the detection.
              if (m > -1 && gtIgS[m] === 0 && gtIgS[j] === 1) break;
              const v = iou[row + perm[j]];
              if (v < best) continue;
              best = v;
              m = j;
            }
            let out: number;
            if (m === -1) {
              out = dtAreaOut[d] ? IGNORED : FP;
            } else {
              gtm[m] = 1;
              if (gtIgS[m]) out = IGNORED;
              else if (gtIdZero[g0 + perm[m]]) out = dtAreaOut[d] ? IGNORED : FP;
              else out = TP;
            }
            outcome[((nKept + d) * A + a) * T + t] = out;
          }
        }
      }
      nKept += D;
    }
  }
  catKeptStart[K] = nKept;

  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  let order = new Int32Array(0);
  let sortedRank = new Int32Array(0);
  let sortedOut = new Uint8Array(0); // [A, T, n]: this category's outcomes in ranking order, scanned sequentially
  let rc = new Float64Array(0);
  let pr = new Float64Array(0);
  for (let k = 0; k < K; k++) {
    const s0 = catKeptStart[k];
    const n = catKeptStart[k + 1] - s0;
    if (order.length < n) {
      order = new Int32Array(n);
      sortedRank = new Int32Array(n);
      sortedOut = new Uint8Array(n * A * T);
      rc = new Float64Array(n);
      pr = new Float64Array(n);
    }
    // All images' kept detections ranked together; for a smaller maxDets the same ranking filtered by in-image
    // rank equals pycocotools' re-sort of the truncated lists, as both sorts are stable over the same sequence.
    const ranked = order.subarray(0, n);
    for (let j = 0; j < n; j++) ranked[j] = s0 + j;
    ranked.sort((x, y) => (keptScore[x] !== keptScore[y] ? (keptScore[x] > keptScore[y] ? -1 : 1) : x - y));
    for (let j = 0; j < n; j++) {
      const s = ranked[j];
      sortedRank[j] = keptRank[s];
      for (let at = 0; at < A * T; at++) sortedOut[at * n + j] = outcome[s * A * T + at];
    }
    for (let a = 0; a < A; a++) {
      const nPos = npig[k * A + a];
      if (nPos === 0) continue;
      for (let mi = 0; mi < M; mi++) {
        const maxDet = COCO_MAX_DETS[mi];
        for (let t = 0; t < T; t++) {
          const outs = (a * T + t) * n;
          // pycocotools builds rc and pr over every detection, then takes the precision envelope and samples it at
          // the first rc >= each recall threshold. rc only rises at true positives, and pr at any other detection is
          // at most pr at the last true positive before it (0 before the first), so the samples are exactly the
          // envelope over true positives only: for threshold x, the first true positive with rc >= x. The doubles
          // are the same expressions pycocotools evaluates.
          let nTp = 0;
          let fp = 0;
          for (let j = 0; j < n; j++) {
            if (sortedRank[j] >= maxDet) continue;
            const out = sortedOut[outs + j];
            if (out === TP) {
              const tp = ++nTp;
              rc[nTp - 1] = tp / nPos;
              pr[nTp - 1] = tp / (fp + tp + Number.EPSILON); // np.spacing(1)
            } else if (out === FP) fp++;
          }
          recall[((t * K + k) * A + a) * M + mi] = nTp / nPos;
          for (let j = nTp - 1; j > 0; j--) if (pr[j] > pr[j - 1]) pr[j - 1] = pr[j];
          let p = 0;
          for (let r = 0; r < R; r++) {
            const x = COCO_RECALL_THRESHOLDS[r];
            while (p < nTp && rc[p] < x) p++;
            precision[(((t * R + r) * K + k) * A + a) * M + mi] = p < nTp ? pr[p] : 0;
          }
        }
      }
    }
  }

  const { stats, perCategoryAp } = summarize(precision, recall, K);
  const perCategory = new Map(catIds.map((id, k) => [id, perCategoryAp[k]]));
  return { stats, perCategory, catIds, precision, recall };
}
