/**
 * The panoptic Task of reinforce's loops (UViM stage II over a frozen oracle):
 *
 *   targets:     an example's labels (one-hot semantics and instances) + its image → the oracle's code + 1 [L]
 *   prediction:  sampled tokens → code → oracle decoder with the image → per pixel the argmax instance, each
 *                instance's class by summed semantic logits (panopticFromLogits) → a two-channel map
 *   reward:      per-image PQ of the map's segments (panopticapi's converter: stuff merged per class) against the
 *                ground truth, in [0, 1] (config `reward`: per-image PQ, or the linearised dataset-PQ gain, which
 *                the `rtg` estimator also gets split over the code tokens by the image region each decodes into)
 *   metric:      PQ / SQ / RQ over the set for All, Things (`_th`) and Stuff (`_st`), in points
 *
 * The oracle is given lazily: `pretrain-oracle` sets the task up before any oracle exists.
 *
 * Dimension legend: B batch, R rows (B·N samples), L code length, S image side, K classes, I instance ids.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  codeAxisWeights,
  codeSide,
  decodeStageTwo,
  readTensor,
  stageTwoTargets,
  type FrozenOracle,
} from '@reward-tune/core-model';
import type { RewardResult, RewardWants, Task } from '@reward-tune/reinforce';
import type { PanopticClasses } from './classes';
import {
  DEFAULT_PANOPTIC_REWARD,
  evaluatePanoptic,
  makePanopticReward,
  makePanopticTokenReward,
  PANOPTIC_REWARD_GIVES,
  type PanopticRewardConfig,
  type PanopticScores,
} from './reward';
import { oracleLabels, type PanopticItem } from './setup';
import { panopticFromLogits, type TwoChannelMap } from './two-channel';

/** PanopticScores as the flat keys of a Task's `evaluate` (PQ, SQ, RQ; PQ_th, …; PQ_st, …). */
export function flatScores(s: PanopticScores): Record<string, number> {
  return {
    PQ: s.All.PQ,
    SQ: s.All.SQ,
    RQ: s.All.RQ,
    PQ_th: s.Things.PQ,
    SQ_th: s.Things.SQ,
    RQ_th: s.Things.RQ,
    PQ_st: s.Stuff.PQ,
    SQ_st: s.Stuff.SQ,
    RQ_st: s.Stuff.RQ,
  };
}

/** Two-channel maps of decoded oracle outputs (`semantics` [R, S, S, K] logits, `instances` [R, S, S, I]). */
export async function mapsOfOutputs(out: Record<string, tf.Tensor4D>): Promise<TwoChannelMap[]> {
  const sem = out.semantics,
    ins = out.instances;
  const [R, H, W, K] = sem.shape;
  const I = ins.shape[3];
  const [s, i] = await Promise.all([readTensor(sem), readTensor(ins)]);
  const semF = s instanceof Float32Array ? s : Float32Array.from(s);
  const insF = i instanceof Float32Array ? i : Float32Array.from(i);
  const per = H * W;
  return Array.from({ length: R }, (_, r) =>
    panopticFromLogits(
      H,
      W,
      semF.subarray(r * per * K, (r + 1) * per * K),
      K,
      insF.subarray(r * per * I, (r + 1) * per * I),
      I,
    ),
  );
}

export class PanopticTask implements Task<PanopticItem, TwoChannelMap> {
  readonly rewardGives = PANOPTIC_REWARD_GIVES;
  private readonly rewardOf: (pred: TwoChannelMap, gt: PanopticItem['truth']) => number;
  private tokenRewardOf?: ReturnType<typeof makePanopticTokenReward>;

  constructor(
    private readonly oracle: () => FrozenOracle,
    readonly classes: PanopticClasses,
    readonly instances: number,
    private readonly rewardConfig: PanopticRewardConfig = DEFAULT_PANOPTIC_REWARD,
  ) {
    this.rewardOf = makePanopticReward(classes, rewardConfig);
  }

  /** The token split, made on first use (the oracle is given lazily). */
  private tokenReward(): ReturnType<typeof makePanopticTokenReward> {
    if (this.tokenRewardOf === undefined) {
      const cfg = this.oracle().cfg;
      const axis = codeAxisWeights(cfg);
      if (axis === undefined)
        throw new RangeError("a reward split over code tokens needs the oracle's 'resize' bottleneck, not 'learned'");
      this.tokenRewardOf = makePanopticTokenReward(this.classes, this.rewardConfig, axis, codeSide(cfg));
    }
    return this.tokenRewardOf;
  }

  async encodeTargetsBatch(examples: readonly PanopticItem[], images: tf.Tensor4D): Promise<Int32Array> {
    const labels = oracleLabels(examples, this.classes, this.instances, images.shape[1]);
    try {
      return await stageTwoTargets(this.oracle(), labels, images);
    } finally {
      tf.dispose([labels.semantics, labels.instances]);
    }
  }

  async decodeBatch(
    tokens: Int32Array,
    _examples: readonly PanopticItem[],
    images: tf.Tensor4D,
  ): Promise<TwoChannelMap[]> {
    const out = decodeStageTwo(this.oracle(), tokens, images);
    try {
      return await mapsOfOutputs(out);
    } finally {
      tf.dispose(Object.values(out));
    }
  }

  reward(predictions: readonly TwoChannelMap[], ex: PanopticItem, want?: RewardWants): RewardResult {
    if (!want?.tokenRewards) return { rewards: Float64Array.from(predictions, (p) => this.rewardOf(p, ex.truth)) };
    const split = predictions.map((p) => this.tokenReward()(p, ex.truth));
    return { rewards: Float64Array.from(split, (r) => r.reward), tokenRewards: split.map((r) => r.tokens) };
  }

  evaluate(predictions: readonly TwoChannelMap[], examples: readonly PanopticItem[]): Record<string, number> {
    return flatScores(
      evaluatePanoptic(
        predictions.map((p, i) => [examples[i].truth, p] as const),
        this.classes,
      ),
    );
  }
}
