// The caption config: every preset resolves through the schema and gives the loops the inputs it gave them before
// they took their sections as they are (__fixtures__/preset-loop-inputs.json), defaults land where the tune loop
// expects them, and the cross-field rules give one-line errors naming the field.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { resolveConfig } from '@reward-tune/core-model';
import { captionConfigSpec, captionPresets, type CaptionConfig } from './config';

const resolve = (preset: string, sets: string[] = []): E.Either<string, CaptionConfig> =>
  resolveConfig(captionConfigSpec, { preset, sets });

/** What the MLE and tuning loops, their optimizers and batch sources read from a config. */
function loopInputs(cfg: CaptionConfig) {
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
        auxWarmup: t.auxWarmup,
        evalEvery: t.evalEvery,
        checkpointEvery: t.checkpointEvery,
        distributionSamples: t.distributionSamples,
        distributionSeed: t.distributionSeed,
      },
      optimizer: t.optimizer,
      batchSize: t.batchSize,
      heldOutImages: t.heldOutImages,
    },
    reward: null,
    // eval.split came after the snapshot (the split evaluated; the loops' held-out curves stay on val): checked below.
    eval: { ...cfg.eval, split: undefined },
    model: cfg.model,
    seed: cfg.seed,
  };
}

describe('caption config', () => {
  it('every preset gives the loops the inputs it gave them before (snapshot)', () => {
    const before = JSON.parse(readFileSync(path.join(__dirname, '__fixtures__', 'preset-loop-inputs.json'), 'utf8'));
    expect(Object.keys(captionPresets).sort()).toEqual(Object.keys(before).sort());
    for (const preset of Object.keys(captionPresets)) {
      // The auxiliary loss's weight, scope and warm-up optimizer: captioning has no auxiliary loss, so the loop never
      // reads them (they were the loop's fallbacks before, the tune section's detection-minded defaults now).
      const { auxLossWeight, auxLossScope, ...config } = before[preset].tune.config;
      const { warmupOptimizer, ...tune } = before[preset].tune;
      expect([auxLossWeight, auxLossScope, warmupOptimizer]).toEqual([1, 'model', null]);
      const expected = { ...before[preset], tune: { ...tune, config } };
      const r = resolve(preset);
      if (E.isLeft(r)) throw new Error(`${preset}: ${r.left}`);
      expect([preset, JSON.parse(JSON.stringify(loopInputs(r.right)))]).toEqual([preset, expected]);
      expect([preset, r.right.eval.split]).toEqual([preset, 'test']);
    }
  });

  it('resolves every preset', () => {
    for (const name of Object.keys(captionPresets)) {
      const r = resolve(name);
      if (E.isLeft(r)) throw new Error(`${name}: ${r.left}`);
    }
    expect(Object.keys(captionPresets).sort()).toEqual(['b16', 'mu', 'quick', 'tiny']);
  });

  it('defaults to the paper estimator, with greedy (self-critical) selectable', () => {
    const tiny = resolve('tiny');
    expect(E.isRight(tiny) && tiny.right.tune.estimator).toBe('paper');
    const greedy = resolve('tiny', ['tune.estimator=greedy', 'tune.numSamples=1']);
    expect(E.isRight(greedy) && greedy.right.tune.estimator).toBe('greedy');
  });

  it('rejects a Karpathy file without its image root, two data sources, one sample for the paper estimator, rtg and expected', () => {
    for (const [sets, field] of [
      [['data.karpathy=/x/dataset_coco.json'], 'imageDir'],
      [['data.dir=/x', 'data.karpathy=/y', 'data.imageDir=/z'], 'karpathy'],
      [['tune.numSamples=1'], 'numSamples'],
      [['tune.estimator=rtg'], 'CIDEr-D does not'],
      [['tune.estimator=expected'], 'CIDEr-D does not'],
    ] as const) {
      const r = resolve('tiny', [...sets]);
      expect(E.isLeft(r)).toBe(true);
      if (E.isLeft(r)) {
        expect(r.left).toContain(field);
        expect(r.left).not.toContain('\n');
      }
    }
  });
});
