// End-to-end plumbing on the `mu` preset (cpu backend): synthetic data written and read back, vocabulary, model,
// task, a few MLE updates, a couple of tuning updates with each estimator family, then greedy evaluation. It checks
// shapes, keys and the loop records, not how good the captions are (that is the demo's job).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import * as tf from '@tensorflow/tfjs-core';
import { createOptimizer, initBackend, resolveConfig, Rng } from '@reward-tune/core-model';
import {
  evaluateGreedy,
  MemoryCheckpointer,
  trainMle,
  tune,
  type MetricsRecord,
  randomBatches,
  sequentialBatches,
} from '@reward-tune/reinforce';
import { captionConfigSpec, type CaptionConfig } from './config';
import { buildModel, buildTask, captionVocabulary, loadImages, prepareData } from './setup';
import { METRIC_KEYS } from './task';
import { vocabularySize } from './vocabulary';

const right = <T>(e: E.Either<string, T>): T => {
  if (E.isLeft(e)) throw new Error(e.left);
  return e.right;
};

let out: string;
beforeAll(async () => {
  await initBackend('cpu', { quiet: true });
  out = mkdtempSync(path.join(os.tmpdir(), 'caption-pipeline-'));
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('mu preset: data → MLE → tune (paper, greedy) → evaluate', async () => {
  const cfg: CaptionConfig = right(resolveConfig(captionConfigSpec, { preset: 'mu' }));
  const data = right(prepareData(cfg, out));
  expect(data.train.examples).toHaveLength(cfg.data.synthetic.trainImages);
  expect(data.val.examples).toHaveLength(cfg.data.synthetic.valImages);
  expect([data.test.examples.length, data.testIsVal]).toEqual([cfg.data.synthetic.testImages, false]);
  expect(data.test.file).toBe(path.join(data.source, 'captions_test.json'));
  expect(data.train.examples.every((e) => e.references.length === 5)).toBe(true);
  // The same directory without its test split (as one written before it existed, or COCO's): test = val, flagged.
  const noTest = right(
    prepareData(right(resolveConfig(captionConfigSpec, { preset: 'mu', sets: ['data.synthetic.testImages=1'] })), out),
  );
  expect(noTest.test.examples).toHaveLength(1);
  rmSync(path.join(noTest.source, 'captions_test.json'));
  rmSync(path.join(noTest.source, 'synthetic-test.json'));
  const asCoco = right(
    prepareData(right(resolveConfig(captionConfigSpec, { preset: 'mu', sets: [`data.dir="${noTest.source}"`] })), out),
  );
  expect([asCoco.testIsVal, asCoco.test]).toEqual([true, asCoco.val]);

  const vocab = captionVocabulary(cfg, data);
  const model = buildModel(cfg, vocab, cfg.seed);
  expect(model.vocabSize).toBe(vocabularySize(vocab));
  expect(model.length).toBe(cfg.caption.length);
  const task = buildTask(cfg, data, vocab);

  const train = right(loadImages(data.train));
  const val = right(loadImages(data.val, cfg.mle.heldOutImages));
  expect(train.pixels).toHaveLength(cfg.data.synthetic.trainImages * cfg.model.imageSize ** 2 * 3);
  const heldOut = sequentialBatches(val, cfg.eval.batchSize);
  const records: MetricsRecord[] = [];
  const metrics = { log: (r: MetricsRecord) => records.push(r) };

  const mleCkpt = new MemoryCheckpointer();
  const mle = await trainMle({
    policy: model,
    optimizer: createOptimizer(cfg.mle.optimizer, model.params),
    task,
    train: randomBatches(train, cfg.mle.batchSize),
    heldOut,
    rng: Rng.fromSeed(cfg.seed + 1),
    config: { steps: cfg.mle.steps, evalEvery: cfg.mle.evalEvery, checkpointEvery: cfg.mle.checkpointEvery },
    checkpointer: mleCkpt,
    metrics,
  });
  expect(mle.stopped).toBe('done');
  expect(mle.losses).toHaveLength(cfg.mle.steps);
  expect(mle.losses.every(Number.isFinite)).toBe(true);
  expect(mleCkpt.steps()).toEqual([2, 4]);
  mleCkpt.dispose();

  for (const estimator of ['paper', 'greedy'] as const) {
    const ckpt = new MemoryCheckpointer();
    const result = await tune({
      policy: model,
      optimizer: createOptimizer(cfg.tune.optimizer, model.params),
      task,
      train: randomBatches(train, cfg.tune.batchSize),
      heldOut,
      rng: Rng.fromSeed(cfg.seed + 2),
      config: { steps: 2, numSamples: cfg.tune.numSamples, estimator, evalEvery: 2, checkpointEvery: 1 },
      checkpointer: ckpt,
      metrics,
    });
    expect(result.stopped).toBe('done');
    expect(result.losses.every(Number.isFinite)).toBe(true);
    expect(ckpt.steps()).toEqual([1, 2]);
    ckpt.dispose();
  }
  const tuneTrain = records.filter(
    (r): r is Extract<MetricsRecord, { kind: 'train' }> => r.kind === 'train' && r.phase === 'tune',
  );
  expect(tuneTrain).toHaveLength(4);
  // Sampled captions are scored: CIDEr-D rewards are finite and non-negative.
  expect(tuneTrain.every((r) => Number.isFinite(r.rewardMean) && r.rewardMean! >= 0)).toBe(true);
  const evals = records.filter((r): r is Extract<MetricsRecord, { kind: 'eval' }> => r.kind === 'eval');
  expect(evals.length).toBeGreaterThan(0);
  for (const e of evals) expect(Object.keys(e.metrics).sort()).toEqual([...METRIC_KEYS].sort());

  const evalTable = right(loadImages(data.val));
  const result = await evaluateGreedy(model, task, sequentialBatches(evalTable, cfg.eval.batchSize));
  expect(result.predictions).toHaveLength(cfg.data.synthetic.valImages);
  expect(result.predictions.every((p) => typeof p.caption === 'string')).toBe(true);
  expect(Object.keys(result.metrics).sort()).toEqual([...METRIC_KEYS].sort());
  for (const k of METRIC_KEYS) expect(Number.isFinite(result.metrics[k])).toBe(true);
  // Greedy captions respect the length: at most L − 1 words.
  expect(
    result.predictions.every((p) => (p.caption === '' ? 0 : p.caption.split(' ').length) <= cfg.caption.length - 1),
  ).toBe(true);
  tf.dispose([...model.params.values()]);
}, 60_000);
