/**
 * `rewards-metrics detection-reward --input sample.json [--json]`: the paper's detection reward for each sampled set
 * of boxes of one image. sample.json = {"class_counts": [n_0, …] (optional: every class weighs 1 without it),
 * "gt": [{"box": [ymin, xmin, ymax, xmax], "class": c}, …], "samples": [[{"box": […], "class": c, "conf": k}, …], …]}.
 */
import * as E from 'fp-ts/Either';
import { z } from 'zod';
import { DEFAULT_IOU_THRESHOLDS, boxesFromObjects, classWeights, detectionReward } from '../detection-reward';
import { orThrow, parseFlags, readJsonAs, required } from './io';

const Box = z.array(z.number()).length(4, 'must be [ymin, xmin, ymax, xmax]');
const Class = z.number().int().nonnegative();
const InputSchema = z.object({
  class_counts: z
    .array(z.number().nonnegative())
    .min(1)
    .refine((c) => c.some((n) => n > 0), 'needs at least one non-zero count')
    .optional(),
  gt: z.array(z.object({ box: Box, class: Class })),
  samples: z.array(z.array(z.object({ box: Box, class: Class, conf: z.number() }))),
});
type Input = z.infer<typeof InputSchema>;

export interface DetectionRewardCliResult {
  readonly reward: number[];
  readonly reward_released: number[];
  readonly correct: number[][];
  readonly match_iou: number[][];
  readonly per_threshold: Record<string, { reward: number[]; num_matches: number[]; nms_penalty: number[] }>;
}

/** With class counts, every class must index them (named by its field path). */
function checkClasses(input: Input, file: string): E.Either<string, Input> {
  const C = input.class_counts?.length;
  if (C === undefined) return E.right(input);
  const g = input.gt.findIndex((b) => b.class >= C);
  if (g >= 0)
    return E.left(`${file}: field "gt[${g}].class": class ${input.gt[g].class} is outside class_counts (${C} classes)`);
  for (let s = 0; s < input.samples.length; s++) {
    const p = input.samples[s].findIndex((b) => b.class >= C);
    if (p >= 0)
      return E.left(
        `${file}: field "samples[${s}][${p}].class": class ${input.samples[s][p].class} is outside class_counts (${C} classes)`,
      );
  }
  return E.right(input);
}

export function scoreFile(file: string): E.Either<string, DetectionRewardCliResult> {
  return E.map((input: Input): DetectionRewardCliResult => {
    const gt = boxesFromObjects(input.gt);
    const opts = input.class_counts ? { classWeights: classWeights(input.class_counts) } : {};
    const results = input.samples.map((s) => detectionReward(boxesFromObjects(s), gt, opts));
    return {
      reward: results.map((r) => r.reward),
      reward_released: results.map((r) => r.rewardReleased),
      correct: results.map((r) => Array.from(r.correct)),
      match_iou: results.map((r) => Array.from(r.matchIou)),
      per_threshold: Object.fromEntries(
        DEFAULT_IOU_THRESHOLDS.map((t, j) => [
          String(t),
          {
            reward: results.map((r) => r.perThreshold.reward[j]),
            num_matches: results.map((r) => r.perThreshold.numMatches[j]),
            nms_penalty: results.map((r) => r.perThreshold.nmsPenalty[j]),
          },
        ]),
      ),
    };
  })(E.chain((input: Input) => checkClasses(input, file))(readJsonAs(InputSchema, file)));
}

export function run(args: readonly string[]): number {
  const { values } = parseFlags(args, { input: { type: 'string' }, json: { type: 'boolean' } });
  const result = orThrow(scoreFile(required(values, 'input')));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  }
  const at05 = result.per_threshold['0.5'];
  const lines = [`sample  reward   released  matches@.5  nms@.5   correct@.5`];
  result.reward.forEach((r, i) => {
    lines.push(
      `${String(i).padStart(6)}  ${r.toFixed(4).padStart(7)}  ${result.reward_released[i].toFixed(4).padStart(8)}  ${String(at05.num_matches[i]).padStart(10)}  ${at05.nms_penalty[i].toFixed(4).padStart(6)}   ${result.correct[i].join('')}`,
    );
  });
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
