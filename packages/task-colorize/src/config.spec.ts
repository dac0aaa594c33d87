// The config: every preset resolves, the sizes agree between the oracle, the stage II model and the scenes, and a
// mismatch is refused naming the field.
import { existsSync } from 'node:fs';
import { ORACLE_PRESETS, oraclePreset } from '@reward-tune/core-model';
import { colorizeConfigSchema, colorizePresets, codeLenOf, dictSizeOf, oracleImageSize, RGB_OUTPUT } from './config';
import { oracleSection, shippedOracle } from './setup';

const resolve = (preset: string) => colorizeConfigSchema.parse(colorizePresets[preset]);

describe('colorize config', () => {
  it.each(['mu', 'quick', 'tiny', 'b16'])('preset %s: the oracle and the stage II model share the image size', (p) => {
    const cfg = resolve(p);
    expect(cfg.model.imageSize).toBe(oracleImageSize(cfg.oracle));
    expect(() => oraclePreset(cfg.oracle.preset, { ...cfg.oracle.model, outputs: [RGB_OUTPUT] })).not.toThrow();
    expect(cfg.tune.estimator).toBe('paper');
    expect(cfg.reward).toEqual({ kind: 'colorfulness', fidelityWeight: 0, chromaThreshold: 10, hueBins: 12 });
  });

  it('tiny is the CPU plan: 64 px, patch 8, a 16-token code of 256 codewords of width 32, nano/8 stage II, N = 4', () => {
    const cfg = resolve('tiny');
    expect(cfg.oracle.preset).toBe('tiny');
    expect(ORACLE_PRESETS.tiny).toMatchObject({ imageSize: 64, patch: 8, width: 96, encDepth: 2, decDepth: 3 });
    expect([codeLenOf(cfg.oracle), dictSizeOf(cfg.oracle), ORACLE_PRESETS.tiny.codewordDim]).toEqual([16, 256, 32]);
    expect(cfg.model).toMatchObject({ variant: 'nano/8', imageSize: 64 });
    expect(cfg.tune.numSamples).toBe(4);
    expect(cfg.eval.split).toBe('test');
    expect(cfg.data.synthetic.testImages).toBeGreaterThanOrEqual(500);
    // The schedules end where the stages end.
    expect(cfg.oracle.optimizer.schedule).toMatchObject({ totalSteps: cfg.oracle.steps });
    expect(cfg.mle.optimizer.schedule).toMatchObject({ totalSteps: cfg.mle.steps });
  });

  it('the default is tiny', () => {
    expect(colorizeConfigSchema.parse({}).oracle.preset).toBe('tiny');
  });

  it('refuses a stage II image size other than the oracle’s, an unknown reward and a negative fidelity weight', () => {
    const bad = (v: unknown) => colorizeConfigSchema.safeParse(v);
    const size = bad({ model: { imageSize: 32 } });
    expect(size.success).toBe(false);
    expect(size.error?.issues[0].path).toEqual(['model', 'imageSize']);
    expect(bad({ reward: { kind: 'vividness' } }).success).toBe(false);
    expect(bad({ reward: { fidelityWeight: -1 } }).success).toBe(false);
    expect(bad({ tune: { estimator: 'rtg' } }).success).toBe(false); // the reward does not split over code tokens
  });
});

describe('the oracle stage II reads', () => {
  it('is oracle.checkpoint when set, else the shipped oracle of the size preset when the package has one', () => {
    const tiny = resolve('tiny');
    expect(existsSync(shippedOracle('tiny'))).toBe(true);
    expect(oracleSection(tiny).checkpoint).toBe(shippedOracle('tiny'));
    expect(oracleSection({ ...tiny, oracle: { ...tiny.oracle, checkpoint: '/x/o.safetensors' } }).checkpoint).toBe(
      '/x/o.safetensors',
    );
    expect(existsSync(shippedOracle('mu'))).toBe(false);
    expect(oracleSection(resolve('mu')).checkpoint).toBeUndefined();
  });
});
