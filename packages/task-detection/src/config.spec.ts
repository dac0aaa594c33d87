// The detection config: every preset gives the loops the same inputs as before the loops took their sections as
// they are (a snapshot of what the old setup.ts handed them, __fixtures__/preset-loop-inputs.json), and a config
// saved under the old key names (the shipped checkpoint's) still resolves, to the same values.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { loadCheckpoint, orUsageError, resolveConfig } from '@reward-tune/core-model';
import { moveKeys } from '@reward-tune/reinforce';
import { shippedCheckpoint } from './commands';
import { detectionConfigSpec, detectionMovedKeys, detectionPresets, type DetectionConfig } from './config';

const resolve = (preset: string, sets: string[] = []): DetectionConfig =>
  orUsageError(resolveConfig(detectionConfigSpec, { preset, sets }));

/** What the MLE and tuning loops, their optimizers, batch sources and the reward read from a config. */
function loopInputs(cfg: DetectionConfig) {
  const { mle: m, tune: t } = cfg;
  return {
    mle: {
      config: {
        steps: m.steps,
        labelSmoothing: m.labelSmoothing,
        evalEvery: m.evalEvery,
        checkpointEvery: m.checkpointEvery,
        earlyStop: m.earlyStop ?? null,
        evalSeed: m.evalSeed,
      },
      optimizer: m.optimizer,
      batchSize: m.batchSize,
      heldOutImages: m.heldOutImages,
    },
    tune: {
      config: {
        steps: t.steps,
        numSamples: t.numSamples,
        microBatch: t.microBatch ?? null,
        estimator: t.estimator,
        normalizeAdvantages: t.normalizeAdvantages,
        discount: t.discount,
        temperature: t.temperature,
        reduction: t.reduction,
        klCoef: t.klCoef,
        auxLossWeight: t.auxLossWeight,
        auxLossScope: t.auxLossScope,
        auxWarmup: t.auxWarmup,
        evalEvery: t.evalEvery,
        checkpointEvery: t.checkpointEvery,
        distributionSamples: t.distributionSamples,
        distributionSeed: t.distributionSeed,
      },
      optimizer: t.optimizer,
      warmupOptimizer: t.auxWarmupOptimizer,
      batchSize: t.batchSize,
      heldOutImages: t.heldOutImages,
    },
    reward: cfg.reward,
    // eval.split came after the snapshot (the split evaluated; the loops' held-out curves stay on val): checked below.
    eval: { ...cfg.eval, split: undefined },
    model: cfg.model,
    seed: cfg.seed,
  };
}

describe('detection config', () => {
  it('every preset gives the loops the inputs it gave them before (snapshot)', () => {
    const before = JSON.parse(readFileSync(path.join(__dirname, '__fixtures__', 'preset-loop-inputs.json'), 'utf8'));
    expect(Object.keys(detectionPresets).sort()).toEqual(Object.keys(before).sort());
    for (const preset of Object.keys(detectionPresets)) {
      expect([preset, JSON.parse(JSON.stringify(loopInputs(resolve(preset))))]).toEqual([preset, before[preset]]);
      expect([preset, resolve(preset).eval.split]).toEqual([preset, 'test']);
    }
  });

  it("reads a config saved under the old key names (the shipped checkpoint's) as the same values", () => {
    const ckpt = loadCheckpoint(shippedCheckpoint('tiny'));
    if (E.isLeft(ckpt)) throw new Error(ckpt.left);
    const saved = ckpt.right.config as { tune: Record<string, unknown> };
    expect(saved.tune).toMatchObject({ confWeight: 0.3, nmsWeight: 0.3, releasedWeighting: false });
    const moved = moveKeys(saved, detectionMovedKeys);
    expect(saved.tune.confWeight).toBe(0.3); // a copy: the saved value is left as it was
    const cfg = orUsageError(
      resolveConfig(detectionConfigSpec, { base: { value: moved, source: 'shipped' }, sets: [] }),
    );
    expect(cfg.tune).toMatchObject({ auxLossWeight: 0.3, steps: 400, evalEvery: 100 });
    expect(cfg.reward).toEqual({ nmsWeight: 0.3, falsePositiveWeight: 0, releasedWeighting: false, confLoss: 'boxes' });
    const tiny = resolve('tiny');
    expect([cfg.model, cfg.data, cfg.tokens]).toEqual([tiny.model, tiny.data, tiny.tokens]);
    // Nested keys move too, and the emptied object goes with them.
    const warm = moveKeys(
      { tune: { confWarmup: { steps: 5, optimizer: { name: 'adamw', lr: 0.1 } } } },
      detectionMovedKeys,
    );
    expect(warm).toEqual({ tune: { auxWarmup: 5, auxWarmupOptimizer: { name: 'adamw', lr: 0.1 } } });
  });

  it('the estimator table rules the tune section: too few samples, normalised expected advantages', () => {
    for (const [sets, message] of [
      [['tune.numSamples=1'], "tune.numSamples: estimator 'paper' needs numSamples ≥ 2, got 1"],
      [
        ['tune.estimator=expected', 'tune.normalizeAdvantages=true'],
        "estimator 'expected' does not combine with normalizeAdvantages",
      ],
    ] as const) {
      const r = resolveConfig(detectionConfigSpec, { preset: 'tiny-paper-estimator', sets: [...sets] });
      expect(E.isLeft(r) && r.left).toContain(message);
    }
    expect(resolve('tiny-paper-estimator', ['tune.estimator=greedy', 'tune.numSamples=1']).tune.numSamples).toBe(1);
  });
});
