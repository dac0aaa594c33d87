/**
 * Object detection as a `reinforce` task: the token language (sequence.ts), the paper's reward (rewards-metrics'
 * detection reward, class-weighted by the training counts), the confidence ("expected IoU") loss on the model's own
 * samples, and COCO box mAP as the official metric.
 *
 * Scores for mAP: a box's score is the model's expected IoU read at its confidence slot, p(2) / (p(1) + p(2))
 * (the paper's §3.1.4; docs/method.md, "Confidence"). It needs the distribution at the slot, which the evaluation
 * suite obtains by re-scoring the greedy output (eval.ts) and passes in `Prediction.scores`; without it (the
 * held-out curve inside the tuning loop) the confidence token itself is the score (2 → 1, 1 → 0.5), so those AP
 * figures are coarser than the final ones.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { EncoderDecoder, Rng } from '@reward-tune/core-model';
import type { RewardResult, RewardWants, Task, TokenValues } from '@reward-tune/reinforce';
import {
  classWeights as computeClassWeights,
  cocoEvaluate,
  detectionReward,
  detectionRewardValue,
  overlapsOwnClass,
  type Boxes,
  type CocoDetection,
  type CocoGroundTruth,
  type DetectionRewardOptions,
  type DetectionRewardResult,
} from '@reward-tune/rewards-metrics';
import type { DetectionExample } from './dataset';
import {
  decodeBoxes,
  encodeBoxes,
  nullSlotWeights,
  slotTokenSets,
  type BoxOrder,
  type DecodedBox,
  type NullBoxes,
} from './sequence';
import {
  MAX_CONF,
  TOKENS_PER_BOX,
  tokenToClass,
  tokenToConf,
  tokenToCoord,
  vocabSize,
  type DetectionVocab,
} from './tokens';

export interface DetectionPrediction {
  /** Every slot, null ones (conf 0) included, so per-slot outputs line up with the sequence. */
  readonly slots: readonly DecodedBox[];
  /** Per-slot score in [0, 1] (expected IoU), when the evaluation suite computed it. */
  readonly scores?: Float32Array;
}

/** Per-sample extras of the reward, at IoU 0.5: what the confidence loss learns from. */
export interface DetectionAux {
  /** [S] 2 matched, 1 real but unmatched, 0 null slot. */
  readonly correct: Uint8Array;
  /** [S] IoU with the matched ground truth, else 0. */
  readonly matchIou: Float64Array;
}

export interface DetectionTaskOptions {
  readonly vocab: DetectionVocab;
  readonly maxBoxes: number;
  readonly order: BoxOrder;
  /** What the MLE targets put in null slots (default `zeros`; sequence.ts). */
  readonly nullBoxes?: NullBoxes;
  /**
   * Whether tuning samples under sequence.ts's `wellFormedSlots` (setup.ts `wellFormedDecoding`): a 0 at a slot's
   * first position then nulls the whole slot, and a box's other tokens cannot be 0. Only the `expected` estimator's
   * token values depend on it.
   */
  readonly wellFormed?: boolean;
  /** Training instance count per contiguous class; absent = every class weighs 1. */
  readonly classCounts?: readonly number[];
  /** Duplicate penalty weight (paper: 0.3). */
  readonly nmsWeight: number;
  /** Penalty weight for boxes on no object or of the wrong class (not in the paper; absent = 0). */
  readonly falsePositiveWeight?: number;
  /** Category id of each contiguous class, for COCO results. */
  readonly categoryIds: readonly number[];
  /** Score the reward with the released code's threshold weighting instead of the plain mean. */
  readonly releasedWeighting?: boolean;
  /**
   * Form of the confidence loss: `paper` is cross-entropy over {0, 1, 2} at every slot (null slots towards 0);
   * `boxes` only at box slots, over {1, 2} renormalised, so that it never moves the null/box decision (see auxLoss).
   */
  readonly confLoss?: ConfLossForm;
}

export type ConfLossForm = 'paper' | 'boxes';

export const STAT_NAMES = [
  'AP',
  'AP50',
  'AP75',
  'APs',
  'APm',
  'APl',
  'AR1',
  'AR10',
  'AR100',
  'ARs',
  'ARm',
  'ARl',
] as const;

/** The ground truth of an example as the reward takes it (crowd boxes are not targets). */
export function gtBoxes(ex: DetectionExample): Boxes {
  const boxes = new Float64Array(ex.boxes.length * 4);
  const classes = new Int32Array(ex.boxes.length);
  ex.boxes.forEach((b, i) => {
    boxes.set([b.ymin, b.xmin, b.ymax, b.xmax], i * 4);
    classes[i] = b.cls;
  });
  return { boxes, classes };
}

export function predBoxes(p: DetectionPrediction): Boxes {
  const S = p.slots.length;
  const boxes = new Float64Array(S * 4);
  const classes = new Int32Array(S);
  const confs = new Int32Array(S);
  p.slots.forEach((b, i) => {
    boxes.set([b.ymin, b.xmin, b.ymax, b.xmax], i * 4);
    classes[i] = b.cls;
    confs[i] = b.conf;
  });
  return { boxes, classes, confs };
}

/** COCO results for the non-null slots of a prediction, in pixels of the original image. */
export function cocoDetections(
  p: DetectionPrediction,
  ex: DetectionExample,
  categoryIds: readonly number[],
): CocoDetection[] {
  const { width: W, height: H, id } = ex.image;
  const out: CocoDetection[] = [];
  p.slots.forEach((b, s) => {
    if (b.conf === 0) return;
    const x0 = Math.min(b.xmin, b.xmax) * W,
      x1 = Math.max(b.xmin, b.xmax) * W;
    const y0 = Math.min(b.ymin, b.ymax) * H,
      y1 = Math.max(b.ymin, b.ymax) * H;
    const score = p.scores ? p.scores[s] : b.conf / MAX_CONF;
    out.push({ image_id: id, category_id: categoryIds[b.cls], bbox: [x0, y0, x1 - x0, y1 - y0], score });
  });
  return out;
}

/** The COCO ground truth of a set of examples (crowd boxes included, as COCO evaluates them). */
export function cocoGroundTruth(
  examples: readonly DetectionExample[],
  categoryIds: readonly number[],
): CocoGroundTruth {
  return {
    images: examples.map((e) => ({ id: e.image.id, width: e.image.width, height: e.image.height })),
    categories: categoryIds.map((id) => ({ id })),
    annotations: examples.flatMap((e) =>
      e.image.annotations.map((a) => ({
        id: a.id,
        image_id: e.image.id,
        category_id: a.categoryId,
        bbox: [...a.bbox],
        area: a.area,
        iscrowd: a.iscrowd ? 1 : 0,
      })),
    ),
  };
}

/**
 * Gives the low-confidence token (1) the decoder input embedding of the high-confidence one (2), in place.
 *
 * MLE targets give every box confidence 2, so the MLE model has never been fed a 1: its input embedding is still
 * its random initialisation. Once tuning's confidence loss makes 1 likely, samples contain it and every slot after
 * it is decoded from an input the model has never seen. Starting 1 where 2 is ("a box, less sure") closes that
 * path; tuning then moves the two apart as it needs. It is one of the three ways the confidence loss collapsed
 * tuning on our tiny runs (sample reward ~0.45 → ~0.1); the others are closed by `tune.auxLossScope: head` and
 * the well-formed slots (docs/experiments/detection-confidence.md).
 */
export function tieLowConfidenceInput(model: EncoderDecoder): void {
  const table = model.params.get(INPUT_EMBEDDING);
  if (table === undefined) throw new Error(`model has no ${INPUT_EMBEDDING}`);
  const [, d] = table.shape;
  table.assign(
    tf.tidy(() => {
      const high = tf.slice(table, [MAX_CONF, 0], [1, d]);
      const mask = tf.reshape(tf.oneHot(tf.tensor1d([1], 'int32'), table.shape[0]), [table.shape[0], 1]); // row 1 only
      return tf.add(tf.mul(table, tf.sub(1, mask)), tf.mul(mask, high));
    }),
  );
}

const INPUT_EMBEDDING = 'decoder/EmbedTargets/embedding';

export class DetectionTask implements Task<DetectionExample, DetectionPrediction, DetectionAux> {
  readonly length: number;
  /** A decision step is a box slot (the `rtg` estimator's discount unit). */
  readonly tokensPerStep = TOKENS_PER_BOX;
  /** The reward's options: this task's class weights and penalties. */
  private readonly rewardOptions: DetectionRewardOptions;

  /** Only with `noise` null boxes (their first five tokens unweighted); `zeros` targets are all weighted 1. */
  readonly targetWeights?: (ex: DetectionExample, targets: Int32Array) => Float32Array;

  /**
   * [6] the tokens each position of a box slot may emit: the slot mask's, without 0 after a coordinate when
   * well-formed.
   */
  private readonly allowed: readonly Int32Array[];

  constructor(readonly opts: DetectionTaskOptions) {
    this.length = opts.maxBoxes * TOKENS_PER_BOX;
    this.allowed = slotTokenSets(opts.vocab, opts.nullBoxes).map((set, t) => {
      const ids: number[] = [];
      set.forEach((ok, v) => ok && !(opts.wellFormed && t > 0 && v === 0) && ids.push(v));
      return Int32Array.from(ids);
    });
    if (opts.nullBoxes === 'noise') this.targetWeights = (_ex, targets) => nullSlotWeights(targets);
    const { nmsWeight, falsePositiveWeight } = opts;
    const classWeights = opts.classCounts ? computeClassWeights(opts.classCounts) : undefined;
    this.rewardOptions = { classWeights, nmsWeight, falsePositiveWeight };
  }

  encodeTargets(ex: DetectionExample, rng: Rng): Int32Array {
    return encodeBoxes(this.opts.vocab, ex.boxes, this.opts.maxBoxes, this.opts.order, rng, this.opts.nullBoxes);
  }

  decode(tokens: Int32Array): DetectionPrediction {
    return { slots: decodeBoxes(this.opts.vocab, tokens) };
  }

  reward(
    predictions: readonly DetectionPrediction[],
    ex: DetectionExample,
    want: RewardWants = {},
  ): RewardResult<DetectionAux> {
    const gt = gtBoxes(ex);
    const rewards = new Float64Array(predictions.length);
    const aux = predictions.map((p, n) => {
      const { result: r, value } = this.scoreBoxes(predBoxes(p), gt);
      rewards[n] = value;
      return { correct: r.correct, matchIou: r.matchIou };
    });
    return {
      rewards,
      aux,
      tokenRewards: want.tokenRewards ? predictions.map((p) => this.slotIncrements(p, gt)) : undefined,
      tokenValues: want.tokenValues ? predictions.map((p) => this.slotValues(p, gt)) : undefined,
    };
  }

  /** The reward of one set of boxes: the paper's, with this task's class weights, penalties and threshold weighting. */
  private scoreBoxes(pred: Boxes, gt: Boxes): { readonly result: DetectionRewardResult; readonly value: number } {
    const result = detectionReward(pred, gt, this.rewardOptions);
    return { result, value: this.opts.releasedWeighting ? result.rewardReleased : result.reward };
  }

  /** scoreBoxes(pred, gt).value, without the per-box results (the token values score ~1,000 edited sets a sample). */
  private scoreValue(pred: Boxes, gt: Boxes): number {
    return detectionRewardValue(pred, gt, this.rewardOptions, this.opts.releasedWeighting);
  }

  /**
   * [L] the reward split over the sequence for the `rtg` estimator: at the last token of slot k, the reward of
   * slots 0..k minus that of slots 0..k−1 (later slots read as null), 0 elsewhere. The entries sum to the reward
   * and each depends only on the tokens up to its position. Not the box's own worth: a later, better box for the
   * same object turns an earlier one into a duplicate, and that change lands on the later slot.
   */
  private slotIncrements(p: DetectionPrediction, gt: Boxes): Float64Array {
    const out = new Float64Array(this.length);
    const pred = predBoxes(p);
    const confs = new Int32Array(pred.classes.length);
    const prefix = { ...pred, confs };
    let before = 0;
    for (let k = 0; k < confs.length; k++) {
      if (pred.confs![k] === 0) continue; // a null slot adds nothing
      confs[k] = pred.confs![k];
      const now = this.scoreValue(prefix, gt);
      out[(k + 1) * TOKENS_PER_BOX - 1] = now - before;
      before = now;
    }
    return out;
  }

  /**
   * The `expected` estimator's token values of one sample (RewardResult.tokenValues): at each position of a slot,
   * for every token the slot mask allows there, the slot's increment (as slotIncrements: the reward of slots 0..k
   * minus that of slots 0..k−1) had that token been drawn, the slot's other tokens and the earlier slots as drawn.
   * A coordinate's values trace how the box's reward moves with that edge, the class's which class pays, the first
   * token's 0 (a null slot, with well-formed slots) is worth 0. A null slot of the `zeros` layout is not enumerated
   * (the alternatives to its first token would need the box it never drew); reward to go covers it.
   */
  private slotValues(p: DetectionPrediction, gt: Boxes): TokenValues {
    const V = vocabSize(this.opts.vocab);
    const values = new Float32Array(this.length * V);
    const enumerated = new Uint8Array(this.length);
    const drawn = predBoxes(p);
    // The prefix being scored: slots before k as drawn, slot k as edited, later slots null.
    const prefix = {
      boxes: Float64Array.from(drawn.boxes),
      classes: Int32Array.from(drawn.classes),
      confs: new Int32Array(drawn.classes.length),
    };
    // The reward of slot k as a real box that overlaps no object of its class, by class: every such edit scores the
    // same (rewards-metrics overlapsOwnClass), and most edits of a coordinate are such boxes.
    const apart = new Map<number, number>();
    for (let k = 0; k < prefix.confs.length; k++) {
      if (this.opts.wellFormed && drawn.confs![k] === 0) continue; // (later slots' prefixes keep it null)
      const base = this.scoreValue(prefix, gt);
      apart.clear();
      for (let t = 0; t < TOKENS_PER_BOX; t++) {
        const at = k * TOKENS_PER_BOX + t;
        enumerated[at] = 1;
        for (const v of this.allowed[t]) {
          if (this.opts.wellFormed && t === 0 && v === 0) continue; // a null slot: worth 0
          this.setToken(prefix, drawn, k, t, v);
          let score: number;
          if (prefix.confs[k] > 0 && !overlapsOwnClass(prefix, k, gt)) {
            const cls = prefix.classes[k];
            score = apart.get(cls) ?? this.scoreValue(prefix, gt);
            apart.set(cls, score);
          } else score = this.scoreValue(prefix, gt);
          values[at * V + v] = score - base;
        }
        this.setToken(prefix, drawn, k, t, -1);
      }
      prefix.confs[k] = drawn.confs![k];
    }
    return { values, enumerated };
  }

  /** Slot k of `prefix` as drawn, with its position t decoded from token v instead (v < 0: as drawn). */
  private setToken(
    prefix: { boxes: Float64Array; classes: Int32Array; confs: Int32Array },
    drawn: Boxes,
    k: number,
    t: number,
    v: number,
  ): void {
    const { vocab } = this.opts;
    for (let c = 0; c < 4; c++) prefix.boxes[k * 4 + c] = drawn.boxes[k * 4 + c];
    prefix.classes[k] = drawn.classes[k];
    prefix.confs[k] = drawn.confs![k];
    if (v < 0) return;
    if (t < 4) prefix.boxes[k * 4 + t] = tokenToCoord(vocab, v);
    else if (t === 4) prefix.classes[k] = tokenToClass(vocab, v);
    else prefix.confs[k] = tokenToConf(v);
  }

  evaluate(predictions: readonly DetectionPrediction[], examples: readonly DetectionExample[]): Record<string, number> {
    const gt = cocoGroundTruth(examples, this.opts.categoryIds);
    const dets = predictions.flatMap((p, i) => cocoDetections(p, examples[i], this.opts.categoryIds));
    const { stats } = cocoEvaluate(gt, dets);
    const out: Record<string, number> = {};
    STAT_NAMES.forEach((k, i) => (out[k] = stats[i]));
    out.boxes_per_image = examples.length > 0 ? dets.length / examples.length : 0;
    return out;
  }

  /**
   * The confidence ("expected IoU") loss of the paper's §3.1.4 (docs/method.md) on the re-scored samples, averaged
   * over rows × slots.
   *
   * `paper`: at every slot's confidence position, cross-entropy of the log-probs of tokens {0, 1, 2} against
   * (1, 0, 0) for a null slot and (0, 1 − IoU, IoU) for a box, IoU being its match IoU at 0.5.
   *
   * `boxes`: at box slots only, cross-entropy of log p(k) − log(p(1) + p(2)), k ∈ {1, 2}, against (1 − IoU, IoU):
   * the expected-IoU score p(2) / (p(1) + p(2)) is trained and p(0) gets no gradient at that position. After MLE
   * p(1) ≈ 0 (every target box has confidence 2), so the paper's form starts several nats high; on our detection
   * runs its gradient, through the shared output layer, raised p(0) and halved the boxes per image within 50 steps
   * (the toy calibration run saw the same: docs/experiments/detection-confidence.md). Renormalising over {1, 2}
   * leaves the box count to the reward.
   */
  auxLoss(logProbs: tf.Tensor3D, _sampled: tf.Tensor2D, aux: readonly DetectionAux[]): tf.Scalar {
    const [R, L, V] = logProbs.shape;
    const S = L / TOKENS_PER_BOX;
    const boxesOnly = this.opts.confLoss === 'boxes';
    const target = new Float32Array(R * S * 3);
    aux.forEach((a, r) => {
      for (let s = 0; s < S; s++) {
        const o = (r * S + s) * 3;
        if (a.correct[s] === 0) {
          if (!boxesOnly) target[o] = 1;
        } else {
          target[o + 1] = 1 - a.matchIou[s];
          target[o + 2] = a.matchIou[s];
        }
      }
    });
    return tf.tidy(() => {
      // [R, L, V] → [R, S, 6, V] → the confidence position's first three log-probs [R, S, 3].
      const slots = tf.reshape(logProbs, [R, S, TOKENS_PER_BOX, V]);
      let conf = tf.reshape(tf.slice(slots, [0, 0, TOKENS_PER_BOX - 1, 0], [R, S, 1, MAX_CONF + 1]), [
        R,
        S,
        MAX_CONF + 1,
      ]);
      if (boxesOnly) {
        // log p(k) − log(p(1) + p(2)) for k = 1, 2; column 0 is multiplied by a zero target.
        const boxLps = tf.slice(conf, [0, 0, 1], [R, S, MAX_CONF]);
        conf = tf.sub(conf, tf.logSumExp(boxLps, -1, true));
      }
      return tf.div(tf.neg(tf.sum(tf.mul(conf, tf.tensor3d(target, [R, S, MAX_CONF + 1])))), R * S) as tf.Scalar;
    });
  }
}
