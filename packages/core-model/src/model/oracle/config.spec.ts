// The oracle config: presets parse with the documented sizes, and every refused config is one line naming its field.
import * as E from 'fp-ts/Either';
import { UsageError } from '../../command-line';
import {
  checkStageTwoVocab,
  codeSide,
  ORACLE_PRESET_NAMES,
  ORACLE_PRESETS,
  oracleConfig,
  oracleOverridesSchema,
  oracleGrid,
  oraclePreset,
  validateOracleConfig,
} from './config';

const OUTPUTS = [
  { name: 'semantics', channels: 7, loss: 'xent' as const },
  { name: 'instances', channels: 16, loss: 'xent' as const },
];

function problem(input: object): string {
  const r = validateOracleConfig({ ...ORACLE_PRESETS.mu, outputs: OUTPUTS, ...input });
  if (E.isRight(r)) throw new Error('expected a refusal');
  return r.left;
}

describe('oracle config', () => {
  it('presets parse with the defaults filled in', () => {
    const tiny = oraclePreset('tiny', { outputs: OUTPUTS });
    expect(tiny).toMatchObject({ imageSize: 64, patch: 8, width: 96, codeLen: 16, codewordDim: 32, dictSize: 256 });
    expect(tiny).toMatchObject({
      momentum: 0.995,
      minCount: 0.1,
      commitment: 0,
      codeDropout: 'random',
      bottleneck: 'resize',
    });
    expect(oracleGrid(tiny)).toEqual([8, 8]);
    expect(codeSide(tiny)).toBe(4);
    const b16 = oraclePreset('b16', { outputs: OUTPUTS });
    expect(b16).toMatchObject({
      imageSize: 512,
      patch: 16,
      codeLen: 256,
      dictSize: 4096,
      width: 768,
      encDepth: 6,
      decDepth: 12,
    });
    expect(oracleGrid(b16)).toEqual([32, 32]);
    for (const name of ['mu', 'quick'] as const) expect(() => oraclePreset(name, { outputs: OUTPUTS })).not.toThrow();
  });

  it('a code length that is not a square is refused under resize, and allowed with a learned bottleneck', () => {
    const msg = problem({ codeLen: 8 });
    expect(msg).toBe(
      "oracle config: codeLen: 8 is not a perfect square (bottleneck 'resize' needs √codeLen × √codeLen)",
    );
    expect(msg.split('\n')).toHaveLength(1);
    expect(
      E.isRight(validateOracleConfig({ ...ORACLE_PRESETS.mu, outputs: OUTPUTS, codeLen: 8, bottleneck: 'learned' })),
    ).toBe(true);
    expect(problem({ codeLen: 25 })).toMatch(/^oracle config: codeLen: a 5×5 code is larger than the 4×4 token grid$/);
  });

  it('other field errors name the field', () => {
    expect(problem({ dictSize: 1 })).toBe('oracle config: dictSize: must be at least 2, got 1');
    expect(problem({ patch: 5 })).toMatch(/^oracle config: patch: image 16 is not a multiple of patch 5$/);
    expect(problem({ heads: 3 })).toMatch(/^oracle config: heads: /);
    expect(problem({ momentum: 1 })).toMatch(/^oracle config: momentum: /);
    expect(problem({ outputs: [OUTPUTS[0], OUTPUTS[0]] })).toBe(
      "oracle config: outputs[1].name: duplicate output 'semantics'",
    );
    expect(problem({ outputs: [{ name: 'a b', channels: 3, loss: 'mse' }] })).toMatch(
      /^oracle config: outputs\[0\]\.name: /,
    );
    expect(problem({ codebook: 3 })).toMatch(/^oracle config: codebook: unknown key$/);
    expect(() => oracleConfig({ ...ORACLE_PRESETS.mu, outputs: OUTPUTS, dictSize: 0 })).toThrow(UsageError);
  });

  it('a stage II vocabulary other than dictSize + 1 is one line naming the field', () => {
    const cfg = oraclePreset('mu', { outputs: OUTPUTS });
    expect(() => checkStageTwoVocab(cfg, 17)).not.toThrow();
    expect(() => checkStageTwoVocab(cfg, 16)).toThrow(UsageError);
    expect(() => checkStageTwoVocab(cfg, 16)).toThrow(
      /^stage II vocabSize: 16 must equal the oracle's dictSize \+ 1 = 17 /,
    );
    expect(() => checkStageTwoVocab(cfg, 20, 'decoder.vocabSize')).toThrow(/^stage II decoder\.vocabSize: 20 /);
  });

  it('outputs weigh 1 unless given; overrides take any field but outputs, with no defaults of their own', () => {
    const cfg = oraclePreset('mu', { outputs: [...OUTPUTS, { name: 'rgb', channels: 3, loss: 'mse', weight: 2 }] });
    expect(cfg.outputs.map((o) => o.weight)).toEqual([1, 1, 2]);
    expect(problem({ outputs: [{ name: 'x', channels: 1, loss: 'mse', weight: 0 }] })).toMatch(
      /^oracle config: outputs\[0\]\.weight: /,
    );
    expect(oracleOverridesSchema.parse({})).toEqual({});
    expect(oracleOverridesSchema.parse({ momentum: 0.99, codeLen: 64 })).toEqual({ momentum: 0.99, codeLen: 64 });
    expect(oracleOverridesSchema.safeParse({ outputs: [] }).success).toBe(false);
    expect(oracleOverridesSchema.safeParse({ momentum: 1 }).success).toBe(false);
    expect(ORACLE_PRESET_NAMES).toEqual(Object.keys(ORACLE_PRESETS));
  });
});
