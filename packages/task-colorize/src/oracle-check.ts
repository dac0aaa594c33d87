/**
 * `oracle-check`: is a stage I oracle worth a stage II? On the first `--images` (default 500) images of the
 * validation split it decodes the true colours' code and an all-zero code, and reports for both the mean
 * colourfulness, near-grey fraction, PSNR to the ground truth and luma PSNR to the input, next to the ground
 * truth's colourfulness. A healthy oracle's true code is well above the zero code (the code carries the colour) and
 * its colourfulness near the ground truth's. The oracle is `oracle.checkpoint` (a checkpoint or a stage I run).
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, UsageError } from '@reward-tune/core-model';
import { logLine, parseCommand, taskRunner } from '@reward-tune/reinforce';
import { colorfulnessSigned } from '@reward-tune/rewards-metrics';
import { colourData, greyTable } from './data';
import { oracleOutputs } from './eval';
import { colorizeAdapter, frozenOracleOf } from './setup';
import { colourMetrics } from './task';

export async function oracleCheckCommand(args: readonly string[]): Promise<number> {
  const opts = parseCommand(args, {
    extra: { images: { type: 'string', description: 'validation images to decode (default 500)' } },
  });
  if (!opts) return 0;
  const raw = String(opts.extra.images ?? '500');
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new UsageError(`--images must be a positive integer, got '${raw}'`);
  const cfg = taskRunner(colorizeAdapter).newRunConfig(opts);
  const data = colourData(cfg);
  if (data._tag === 'Left') throw new UsageError(data.left);
  await initBackend(opts.backend);
  const oracle = frozenOracleOf(cfg)();
  const table = greyTable(data.right.splits.val, data.right.size, Number(raw));
  const zero: Float32Array[] = [];
  const truth: Float32Array[] = [];
  const s = table.size;
  const per = s * s * 3;
  for (let i = 0; i < table.examples.length; i += 50) {
    const items = table.examples.slice(i, i + 50);
    const grey = tf.tensor4d(table.pixels.slice(i * per, (i + items.length) * per), [items.length, s, s, 3]);
    const o = await oracleOutputs(oracle, items, grey);
    grey.dispose();
    zero.push(...o.zeroCode);
    truth.push(...o.trueCode);
  }
  const t = cfg.reward.chromaThreshold;
  const out = {
    checkpoint: oracle.file,
    images: table.examples.length,
    ground_truth: {
      colourfulness: table.examples.reduce((a, e) => a + colorfulnessSigned(e.rgb), 0) / table.examples.length,
    },
    true_code: colourMetrics(truth, table.examples, t),
    zero_code: colourMetrics(zero, table.examples, t),
  };
  const line = (n: string, m: typeof out.true_code) =>
    `${n}: colourfulness ${m.colourfulness.toFixed(1)}, near-grey ${(100 * m.grey_fraction).toFixed(1)}%, PSNR ${m.psnr.toFixed(2)} dB, luma PSNR ${m.luma_psnr.toFixed(2)} dB`;
  logLine(`val, ${out.images} images; ground truth colourfulness ${out.ground_truth.colourfulness.toFixed(1)}`);
  logLine(line('true code', out.true_code));
  logLine(line('zero code', out.zero_code));
  if (opts.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  return 0;
}
