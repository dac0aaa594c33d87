// Tokenizer glue: vocabulary from references, its run-directory file (round trip and validation), MLE targets
// with a random reference per example, and batch decoding.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { Rng } from '@reward-tune/core-model';
import {
  buildCaptionVocabulary,
  captionLength,
  decodeCaptions,
  loadVocabulary,
  sampleTargets,
  saveVocabulary,
  VOCABULARY_FILE,
} from './tokenizer';
import { encodeCaption, END, PAD, UNK, vocabularySize } from './vocabulary';

const examples = [
  { references: ['a red box', 'two shapes'] },
  { references: ['a blue ball', 'a red ball to the left of a box', 'one shape'] },
];

describe('caption tokenizer', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'caption-vocab-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('builds the vocabulary from all references with a minimum count', () => {
    // counts: a 5, box 2, red 2, ball 2; every other word once.
    const v = buildCaptionVocabulary(examples, 2);
    expect(v.words).toEqual(['a', 'ball', 'box', 'red']);
    expect(vocabularySize(v)).toBe(7);
    expect(buildCaptionVocabulary(examples).words).toHaveLength(13);
    expect(captionLength(examples)).toBe(10); // "a red ball to the left of a box" is 9 words, + END
  });

  it('saves and loads the vocabulary with the run', () => {
    const v = buildCaptionVocabulary(examples);
    const file = saveVocabulary(dir, v, 1);
    expect(file).toEqual(E.right(path.join(dir, VOCABULARY_FILE)));
    const back = loadVocabulary(dir);
    if (E.isLeft(back)) throw new Error(back.left);
    expect(back.right.words).toEqual(v.words);
    expect([...back.right.index]).toEqual([...v.index]);
  });

  it('rejects a bad vocabulary file with one line naming the file and the field', () => {
    const file = path.join(dir, VOCABULARY_FILE);
    const put = (json: unknown): string => {
      writeFileSync(file, JSON.stringify(json));
      const r = loadVocabulary(dir);
      if (E.isRight(r)) throw new Error('expected an error');
      expect(r.left).not.toContain('\n');
      return r.left;
    };
    const ok = { format: 'reward-tune caption vocabulary', minCount: 1 };
    expect(put({ ...ok, words: ['a', 'box', 'a'] })).toBe(`${file}: words[2]: duplicate word "a" (also at words[0])`);
    expect(put({ ...ok, words: ['a', 'red box'] })).toBe(`${file}: words[1]: expected one word with no spaces`);
    expect(put({ ...ok })).toMatch(new RegExp(`^${file}: words: `));
    expect(put({ ...ok, format: 'something else', words: [] })).toMatch(new RegExp(`^${file}: format: `));
    expect(put({ ...ok, words: [], extra: 1 })).toBe(`${file}: extra: unknown key`);
    rmSync(file);
    expect(loadVocabulary(dir)).toEqual(E.left(`${file}: cannot read file (ENOENT)`));
  });

  it('draws one reference per example per step, uniformly and reproducibly', () => {
    const v = buildCaptionVocabulary(examples);
    const L = 6;
    const refs = examples.map((e) => e.references);
    const encoded = refs.map((rs) => rs.map((r) => Array.from(encodeCaption(v, r, L))));
    const seen = refs.map((rs) => new Array<number>(rs.length).fill(0));
    const rng = Rng.fromSeed(5);
    for (let step = 0; step < 300; step++) {
      const t = sampleTargets(v, refs, L, rng);
      expect(t.length).toBe(2 * L);
      for (let b = 0; b < 2; b++) {
        const row = Array.from(t.subarray(b * L, (b + 1) * L));
        const k = encoded[b].findIndex((e) => e.join() === row.join());
        expect(k).toBeGreaterThanOrEqual(0);
        seen[b][k]++;
      }
    }
    // 300 draws of 2 (resp. 3) equally likely references: each ≈ 150 (100); ±40 is > 4 standard deviations.
    for (const n of seen[0]) expect(Math.abs(n - 150)).toBeLessThan(40);
    for (const n of seen[1]) expect(Math.abs(n - 100)).toBeLessThan(40);
    expect(sampleTargets(v, refs, L, Rng.fromSeed(9))).toEqual(sampleTargets(v, refs, L, Rng.fromSeed(9)));
    expect(() => sampleTargets(v, [[]], L, rng)).toThrow('example 0 has no references');
  });

  it('decodes a batch of token rows back to captions', () => {
    const v = buildCaptionVocabulary(examples);
    const id = (w: string): number => v.index.get(w)!;
    const tokens = Int32Array.from([
      id('a'),
      id('red'),
      id('box'),
      END,
      id('a'),
      PAD,
      id('two'),
      UNK,
      id('shape'),
      PAD,
      PAD,
      PAD,
    ]);
    expect(decodeCaptions(v, tokens, 6)).toEqual(['a red box', 'two <unk> shape']);
    expect(() => decodeCaptions(v, tokens, 5)).toThrow('not a multiple');
  });
});
