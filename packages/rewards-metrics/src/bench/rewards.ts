/**
 * Per-sample reward timings for `rewards-metrics bench`, measured in-process (the rewards are called inside the tuning
 * loop, not through the CLI): the detection reward of one image with 100 predicted slots, one caption's CIDEr-D under
 * document frequencies precomputed from a reference corpus, and the per-image PQ of a 512×512 panoptic pair.
 */
import { normalizeCaption } from '../caption-normalize';
import { CiderD } from '../cider';
import {
  classWeights,
  detectionReward,
  detectionRewardValue,
  COCO_TRAIN_CLASS_COUNTS,
  type Boxes,
} from '../detection-reward';
import { imagePq, type PanopticImage, type PanopticSegment, type PqCategory } from '../panoptic-quality';
import { generateCaptionCorpus, mulberry32 } from './caption';

/**
 * Median microseconds per call of `fn`, over batches of `batch` calls (after a warm-up): the median of batches
 * shrugs off a garbage collection or a neighbour's burst on a shared machine.
 */
export function microseconds(fn: (i: number) => unknown, reps: number, batch = 50): number {
  for (let i = 0; i < Math.min(reps, 200); i++) fn(i);
  const times: number[] = [];
  for (let r = 0; r < reps; r += batch) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn(r + i);
    times.push(Number(process.hrtime.bigint() - t0) / 1e3 / batch);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * One image's GT (`gtBoxes` boxes of 5 classes, default 20) and 16 predicted samples of `slots` slots each (default
 * 100): 60% of the slots jitter a GT box (so that many match, with duplicates), the rest are random; confidences 0
 * (null slot), 1 or 2.
 */
export function detectionRewardCase(seed = 7, gtBoxes = 20, slots = 100): { gt: Boxes; preds: Boxes[] } {
  const rnd = mulberry32(seed);
  const randomBoxes = (k: number, withConf: boolean): Boxes & { boxes: Float64Array; classes: Int32Array } => {
    const boxes = new Float64Array(k * 4);
    const classes = new Int32Array(k);
    const confs = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      const y = rnd() * 0.8;
      const x = rnd() * 0.8;
      boxes.set([y, x, y + 0.05 + rnd() * 0.15, x + 0.05 + rnd() * 0.15], j * 4);
      classes[j] = Math.floor(rnd() * 5);
      confs[j] = withConf ? Math.floor(rnd() * 3) : 2;
    }
    return { boxes, classes, confs };
  };
  const gt = randomBoxes(gtBoxes, false);
  const preds = Array.from({ length: 16 }, () => {
    const p = randomBoxes(slots, true);
    for (let j = 0; j < slots; j++) {
      const g = j % gtBoxes;
      if (rnd() < 0.6) {
        for (let c = 0; c < 4; c++) p.boxes[j * 4 + c] = gt.boxes[g * 4 + c] + (rnd() - 0.5) * 0.02;
        p.classes[j] = gt.classes[g];
      }
    }
    return p;
  });
  return { gt, preds };
}

/**
 * A size×size panoptic pair: the GT tiles the image into an 8×8 grid of segments (alternating 10 thing and 10 stuff
 * categories, a void border and one crowd segment); the prediction shifts the grid by 8% of a cell and relabels
 * every seventh segment, so matches, FPs, FNs and void overlap all occur.
 */
export function panopticCase(size = 512): { gt: PanopticImage; pred: PanopticImage; categories: PqCategory[] } {
  const categories: PqCategory[] = Array.from({ length: 20 }, (_, c) => ({ id: c + 1, isthing: c < 10 ? 1 : 0 }));
  const grid = 8;
  const cell = size / grid;
  const build = (shift: number, relabel: boolean, crowd: boolean): PanopticImage => {
    const ids = new Uint32Array(size * size);
    const segments: PanopticSegment[] = [];
    for (let s = 0; s < grid * grid; s++) {
      const cat = relabel && s % 7 === 3 ? ((s + 5) % 20) + 1 : (s % 20) + 1;
      segments.push({ id: s + 1, category_id: cat, iscrowd: crowd && s === 9 ? 1 : 0 });
    }
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const border = x < 4 || y < 4 || x >= size - 4 || y >= size - 4;
        if (border && !relabel) continue; // GT void border; the prediction covers it
        const gx = Math.min(grid - 1, Math.max(0, Math.floor((x + shift) / cell)));
        const gy = Math.min(grid - 1, Math.max(0, Math.floor((y + shift) / cell)));
        ids[y * size + x] = gy * grid + gx + 1;
      }
    }
    return { width: size, height: size, ids, segments };
  };
  return { gt: build(0, false, true), pred: build(Math.max(1, Math.round(cell * 0.08)), true, false), categories };
}

export interface RewardTimings {
  /** Detection reward of one image, 100 predicted slots against 20 GT boxes, COCO class weights. */
  readonly detectionReward100BoxesMicroseconds: number;
  /** The same at a tuning sample's size, 8 slots against 5 GT boxes: `detectionReward`, then `detectionRewardValue`. */
  readonly detectionReward8BoxesMicroseconds: number;
  readonly detectionRewardValue8BoxesMicroseconds: number;
  /** CIDEr-D of one caption against its image's 5 references, df precomputed from `dfImages` images. */
  readonly ciderDMicroseconds: number;
  readonly ciderDDfImages: number;
  /** Per-image PQ of one 512×512 GT/prediction pair (64 segments each). */
  readonly pq512Microseconds: number;
}

/** Times the per-sample rewards; `reps` calls each for the cheap ones, reps/100 (at least 20) for PQ. */
export function benchRewards(opts: { reps?: number; dfImages?: number } = {}): RewardTimings {
  const reps = opts.reps ?? 20000;
  const dfImages = opts.dfImages ?? 5000;
  const { gt, preds } = detectionRewardCase();
  const weights = classWeights(COCO_TRAIN_CLASS_COUNTS);
  const det = microseconds((i) => detectionReward(preds[i % preds.length], gt, { classWeights: weights }), reps);
  const small = detectionRewardCase(7, 5, 8);
  const det8 = microseconds((i) => detectionReward(small.preds[i % 16], small.gt, { classWeights: weights }), reps);
  const value8 = microseconds(
    (i) => detectionRewardValue(small.preds[i % 16], small.gt, { classWeights: weights }),
    reps,
  );

  // The reward path: a scorer built once from the training references, then one caption at a time against its
  // image's references (prepared once per references array and cached by the scorer, as in a tuning loop).
  const corpus = generateCaptionCorpus(dfImages, 1);
  const refs = corpus.refs.map((r) => r.map(normalizeCaption));
  const cands = corpus.cands.map(normalizeCaption);
  const scorer = CiderD.fromReferences(refs);
  const cider = microseconds((i) => scorer.score(cands[i % dfImages], refs[i % dfImages]), reps);

  const pq = panopticCase(512);
  const pqUs = microseconds(() => imagePq(pq.gt, pq.pred, pq.categories), Math.max(20, Math.floor(reps / 100)), 5);
  return {
    detectionReward100BoxesMicroseconds: det,
    detectionReward8BoxesMicroseconds: det8,
    detectionRewardValue8BoxesMicroseconds: value8,
    ciderDMicroseconds: cider,
    ciderDDfImages: dfImages,
    pq512Microseconds: pqUs,
  };
}
