/**
 * What COCO box evaluation (coco-eval.ts) reads and returns, and its fixed parameters: pycocotools' `Params` for
 * iouType 'bbox' (IoU thresholds, recall thresholds, maxDets, area ranges), with its thresholds as the exact doubles
 * of np.linspace.
 */

export interface CocoImage {
  readonly id: number;
}

export interface CocoCategory {
  readonly id: number;
  readonly name?: string;
}

/** One annotation of a COCO instances file; `bbox` is [x, y, w, h]. */
export interface CocoAnnotation {
  readonly id: number;
  readonly image_id: number;
  readonly category_id: number;
  readonly bbox: readonly number[];
  readonly area: number;
  readonly iscrowd: number | boolean;
  /** Accepted and, as in pycocotools, without effect. */
  readonly ignore?: number | boolean;
}

export interface CocoGroundTruth {
  readonly images: readonly CocoImage[];
  readonly categories: readonly CocoCategory[];
  readonly annotations: readonly CocoAnnotation[];
}

/** One entry of a COCO results file; `bbox` is [x, y, w, h]. */
export interface CocoDetection {
  readonly image_id: number;
  readonly category_id: number;
  readonly bbox: readonly number[];
  readonly score: number;
}

export interface CocoEvalResult {
  /** AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl — pycocotools' `stats` order; -1: no GT. */
  readonly stats: number[];
  /** AP@[.5:.95], area all, maxDets 100, per GT category id; -1 for a category without GT. */
  readonly perCategory: Map<number, number>;
  /** The GT's category ids, sorted: the K axis of `precision` and `recall`. */
  readonly catIds: number[];
  /** [T, R, K, A, M] row-major, like pycocotools' eval['precision']. */
  readonly precision: Float64Array;
  /** [T, K, A, M] row-major, like pycocotools' eval['recall']. */
  readonly recall: Float64Array;
}

/** Bad evaluation input (not a programmer error); the CLI reports it with the detections file's name. */
export class CocoInputError extends Error {
  override readonly name = 'CocoInputError';
  /** Which input is at fault: the ground truth or the detections. */
  constructor(
    readonly input: 'gt' | 'dt',
    message: string,
  ) {
    super(message);
  }
}

/** np.linspace(start, stop, num) with endpoint: start + i·step, step = (stop − start)/(num − 1), last = stop. */
export function npLinspace(start: number, stop: number, num: number): Float64Array {
  const y = new Float64Array(num);
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) y[i] = i * step + start;
  if (num > 1) y[num - 1] = stop;
  return y;
}

export const COCO_IOU_THRESHOLDS: Float64Array = npLinspace(0.5, 0.95, 10);
export const COCO_RECALL_THRESHOLDS: Float64Array = npLinspace(0, 1, 101);
export const COCO_MAX_DETS: readonly number[] = [1, 10, 100];
export const COCO_AREA_LABELS: readonly string[] = ['all', 'small', 'medium', 'large'];
export const COCO_AREA_RANGES: readonly (readonly [number, number])[] = [
  [0, 1e10],
  [0, 32 ** 2],
  [32 ** 2, 96 ** 2],
  [96 ** 2, 1e10],
];
