/**
 * Training labels as UViM makes them (big_vision `pp/proj/uvim/pp_ops.py`: `coco_panoptic` then `make_canonical`):
 * two channels per pixel, the semantic class (1..K, 0 = void) and an instance id. Every segment, things AND stuff,
 * gets an instance id; ids are renumbered 1..n in the raster order of the segments' centroids (key cx + H·cy over
 * integer pixel coordinates, ties by first pixel), so that the instance softmax has one right answer per image.
 * Void pixels are 0 in both channels.
 *
 * Ids that do not fit the instance head (id ≥ numInstances, e.g. 16 at the tiny size, 100 for COCO) become
 * NO_INSTANCE (−1): big_vision one-hot encodes such ids to all zeros, so those pixels drop out of the instance loss
 * while keeping their semantic class, and a one-hot of −1 (tf.oneHot) is all zeros too. (Mapping them to 0 instead
 * would train "void instance" on labelled pixels.)
 */
import type { PanopticClasses } from './classes';
import type { TwoChannelMap } from './two-channel';

/** Instance label of pixels whose canonical id does not fit the instance head: no instance target. */
export const NO_INSTANCE = -1;

/** A ground-truth panoptic map: segment id per pixel (0 = void) and the segments the ids stand for. */
export interface PanopticTruth {
  readonly width: number;
  readonly height: number;
  readonly ids: Uint32Array;
  readonly segments: readonly { readonly id: number; readonly category_id: number; readonly iscrowd?: number }[];
}

export interface PanopticLabels extends TwoChannelMap {
  /** Segments with pixels (= the largest canonical id before dropping). */
  readonly numSegments: number;
}

/**
 * The canonical two-channel labels of a ground-truth map. Throws a RangeError for a pixel id that no segment has
 * or a segment of a category outside `classes` (validate input data first: see `loadPanopticTruth`).
 */
export function panopticLabels(truth: PanopticTruth, classes: PanopticClasses, numInstances: number): PanopticLabels {
  const { width: W, height: H, ids, segments } = truth;
  const P = W * H;
  if (ids.length !== P) throw new RangeError(`panopticLabels: ${ids.length} ids for ${W}×${H}`);
  if (!Number.isInteger(numInstances) || numInstances < 1)
    throw new RangeError(`panopticLabels: numInstances must be a positive integer, got ${numInstances}`);
  const n = segments.length;
  const indexOf = new Map<number, number>();
  const semOfSegment = new Int32Array(n);
  segments.forEach((s, k) => {
    const sem = classes.semanticOf.get(s.category_id);
    if (sem === undefined)
      throw new RangeError(`panopticLabels: segment ${s.id} has unknown category_id ${s.category_id}`);
    indexOf.set(s.id, k);
    semOfSegment[k] = sem;
  });
  const seg = new Int32Array(P);
  const count = new Float64Array(n),
    sumX = new Float64Array(n),
    sumY = new Float64Array(n);
  const first = new Int32Array(n).fill(-1);
  let lastId = 0,
    lastK = -1;
  for (let p = 0; p < P; p++) {
    const id = ids[p];
    if (id === 0) {
      seg[p] = -1;
      continue;
    }
    let k = lastK;
    if (id !== lastId) {
      const found = indexOf.get(id);
      if (found === undefined)
        throw new RangeError(
          `panopticLabels: pixel ${p % W}, ${Math.floor(p / W)} has segment id ${id}, which no segment has`,
        );
      k = found;
      lastId = id;
      lastK = k;
    }
    seg[p] = k;
    const x = p % W;
    count[k]++;
    sumX[k] += x;
    sumY[k] += (p - x) / W;
    if (first[k] < 0) first[k] = p;
  }
  const present: number[] = [];
  for (let k = 0; k < n; k++) if (count[k] > 0) present.push(k);
  const key = (k: number): number => sumX[k] / count[k] + H * (sumY[k] / count[k]);
  present.sort((a, b) => key(a) - key(b) || first[a] - first[b]);
  const canonical = new Int32Array(n);
  present.forEach((k, r) => (canonical[k] = r + 1 < numInstances ? r + 1 : NO_INSTANCE));
  const semantics = new Int32Array(P);
  const instances = new Int32Array(P);
  for (let p = 0; p < P; p++) {
    const k = seg[p];
    if (k < 0) continue;
    semantics[p] = semOfSegment[k];
    instances[p] = canonical[k];
  }
  return { height: H, width: W, semantics, instances, numSegments: present.length };
}

/**
 * Per-pixel loss weights: `thingWeight` on pixels whose semantic class is a thing, 1 elsewhere (stuff and void).
 * Things are a small share of the pixels, so an unweighted per-pixel loss learns mostly stuff.
 */
export function labelWeights(labels: TwoChannelMap, classes: PanopticClasses, thingWeight = 5): Float32Array {
  const out = new Float32Array(labels.semantics.length);
  for (let p = 0; p < out.length; p++) out[p] = classes.thingSemantic[labels.semantics[p]] === 1 ? thingWeight : 1;
  return out;
}
