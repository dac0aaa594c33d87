// The caption config: every preset resolves through the schema, defaults land where the tune loop expects them,
// and the cross-field rules give one-line errors naming the field.
import * as E from 'fp-ts/Either';
import { resolveConfig } from '@reward-tune/core-model';
import { captionConfigSpec, captionPresets, type CaptionConfig } from './config';

const resolve = (preset: string, sets: string[] = []): E.Either<string, CaptionConfig> => resolveConfig(captionConfigSpec, { preset, sets });

describe('caption config', () => {
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
