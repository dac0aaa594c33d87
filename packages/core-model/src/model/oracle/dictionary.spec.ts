// The dictionary's EMA update and dead-code split against a float64 reference written here from big_vision's
// equations (counts ← m·counts + hist; sums ← m·sums + Σ x; while min count < minCount: slot argmin ← copy of
// argmax × U(0.999, 1.001) per dim, both counts and sums halved), on small hand-made inputs.
import { Rng } from '../../rng';
import {
  codebookHealth,
  codeHistogram,
  codewords,
  emaUpdate,
  initOracleState,
  oracleStateFromHost,
  type OracleState,
} from './dictionary';

/** The reference, over arrays of rows, in float64. Random draws: D uniforms per split, in dimension order. */
function reference(
  dict: number[][],
  counts: number[],
  codes: number[],
  x: number[][],
  m: number,
  minCount: number,
  rng: Rng,
) {
  const c = counts.map((v) => v * m);
  const e = dict.map((row) => row.map((v) => v * m));
  codes.forEach((k, n) => {
    c[k] += 1;
    x[n].forEach((v, j) => (e[k][j] += v));
  });
  const first = (pick: (a: number, b: number) => boolean) => c.reduce((best, v, i) => (pick(v, c[best]) ? i : best), 0);
  let splits = 0;
  while (Math.min(...c) < minCount) {
    const iMax = first((a, b) => a > b);
    const iMin = first((a, b) => a < b);
    e[iMin] = e[iMax].map((v) => v * (0.999 + 0.002 * rng.next()));
    c[iMin] = c[iMax] / 2;
    c[iMax] = c[iMax] / 2;
    e[iMin] = e[iMin].map((v) => v / 2);
    e[iMax] = e[iMax].map((v) => v / 2);
    splits++;
  }
  return { dict: e, counts: c, splits };
}

function stateOf(dict: number[][], counts: number[]): OracleState {
  return {
    dictSize: dict.length,
    codewordDim: dict[0].length,
    dictionary: Float32Array.from(dict.flat()),
    counts: Float32Array.from(counts),
  };
}

function expectState(s: OracleState, ref: { dict: number[][]; counts: number[] }): void {
  ref.counts.forEach((c, i) => expect(s.counts[i]).toBeCloseTo(c, 5));
  ref.dict.flat().forEach((v, i) => expect(s.dictionary[i]).toBeCloseTo(v, 5));
}

const DICT = [
  [0.5, -0.2, 0.1],
  [0.3, 0.3, -0.4],
  [-0.6, 0.1, 0.2],
  [0.05, -0.5, 0.7],
  [1.0, 0.9, -0.3],
];
const X = [
  [1.2, -0.3, -0.9],
  [0.4, 1.0, -1.4],
  [-1.3, 0.2, 1.1],
  [1.1, 0.1, -1.2],
  [-0.2, 1.3, -1.1],
  [0.7, -1.4, 0.7],
];

describe('dictionary EMA update', () => {
  it('no dead code: sums and counts as the equations say, nothing split, input state untouched', () => {
    const counts = [3, 1, 2, 0.5, 4];
    const codes = [0, 1, 2, 0, 1, 3];
    const before = stateOf(DICT, counts);
    const copy = Float32Array.from(before.dictionary);
    const r = emaUpdate(before, codes, X.flat(), { momentum: 0.9, minCount: 0.1, rng: Rng.fromSeed(1) });
    const ref = reference(DICT, counts, codes, X, 0.9, 0.1, Rng.fromSeed(1));
    expect(ref.splits).toBe(0);
    expect(r.splits).toBe(0);
    expectState(r.state, ref);
    // Code 4 got nothing: 4·0.9; code 0 got x0 + x3 on top of 0.9·its sum.
    expect(r.state.counts[4]).toBeCloseTo(3.6, 6);
    expect(r.state.dictionary[0]).toBeCloseTo(0.45 + 1.2 + 1.1, 5);
    expect(before.dictionary).toEqual(copy);
  });

  it('a dead code is replaced by a split of the most used one', () => {
    // Code 3 falls to 0.105·0.9 = 0.0945 < 0.1 and code 1 has the largest count (1.5·0.9 + 3 = 4.35).
    const counts = [0.5, 1.5, 1, 0.105, 2];
    const codes = [1, 1, 1, 0, 2, 4];
    const r = emaUpdate(stateOf(DICT, counts), codes, X.flat(), { momentum: 0.9, minCount: 0.1, rng: Rng.fromSeed(7) });
    const ref = reference(DICT, counts, codes, X, 0.9, 0.1, Rng.fromSeed(7));
    expect(ref.splits).toBe(1);
    expect(r.splits).toBe(1);
    expectState(r.state, ref);
    expect(r.state.counts[3]).toBeCloseTo(4.35 / 2, 5);
    expect(r.state.counts[1]).toBeCloseTo(4.35 / 2, 5);
    // The new codeword points where the split one does (up to the 0.1 % jitter).
    for (let j = 0; j < 3; j++) {
      const ratio = r.state.dictionary[3 * 3 + j] / r.state.dictionary[1 * 3 + j];
      expect(Math.abs(ratio - 1)).toBeLessThanOrEqual(0.001 + 1e-6);
    }
  });

  it('several dead codes (ties at the minimum take the first index) are split one after another', () => {
    const dict6 = [...DICT, [0.2, 0.2, 0.2]];
    const counts = [0.05, 0.9, 0.05, 0.2, 6, 0.05];
    const codes = [4, 4, 4, 4, 1, 4];
    const r = emaUpdate(stateOf(dict6, counts), codes, X.flat(), {
      momentum: 0.99,
      minCount: 0.1,
      rng: Rng.fromSeed(3),
    });
    const ref = reference(dict6, counts, codes, X, 0.99, 0.1, Rng.fromSeed(3));
    expect(ref.splits).toBe(3);
    expect(r.splits).toBe(3);
    expectState(r.state, ref);
    expect(Math.min(...r.state.counts)).toBeGreaterThanOrEqual(0.1);
  });

  it('rejects codes outside the dictionary and mismatched vector counts', () => {
    const s = stateOf(DICT, [1, 1, 1, 1, 1]);
    expect(() => emaUpdate(s, [5], [0, 0, 0], { momentum: 0.9, minCount: 0.1, rng: Rng.fromSeed(0) })).toThrow(
      /code 5 at 0 is outside \[0, 5\)/,
    );
    expect(() => emaUpdate(s, [0, 1], [0, 0, 0], { momentum: 0.9, minCount: 0.1, rng: Rng.fromSeed(0) })).toThrow(
      /3 pre-quantisation values for 2 codes/,
    );
  });
});

describe('dictionary state', () => {
  it('init: N(0, 1/√K) entries, counts 1; codewords are unit rows of dictionary/counts', () => {
    const s = initOracleState({ dictSize: 64, codewordDim: 16 }, Rng.fromSeed(0));
    expect([...s.counts].every((c) => c === 1)).toBe(true);
    const std = Math.sqrt(s.dictionary.reduce((a, v) => a + v * v, 0) / s.dictionary.length);
    expect(std).toBeGreaterThan(0.1);
    expect(std).toBeLessThan(0.15); // 1/√64 = 0.125
    const e = codewords(stateOf(DICT, [2, 1, 1, 1, 4]));
    for (let k = 0; k < 5; k++) {
      const row = DICT[k];
      const n = Math.hypot(...row);
      for (let j = 0; j < 3; j++) expect(e[k * 3 + j]).toBeCloseTo(row[j] / n, 6); // the count cancels
    }
  });

  it('round-trips through host tensors and refuses wrong shapes', () => {
    const s = stateOf(DICT, [1, 2, 3, 4, 5]);
    const host = new Map([
      ['state/dictionary', { shape: [5, 3], data: s.dictionary }],
      ['state/counts', { shape: [5], data: s.counts }],
    ]);
    expect(oracleStateFromHost(host, { dictSize: 5, codewordDim: 3 })).toEqual(s);
    expect(() => oracleStateFromHost(host, { dictSize: 6, codewordDim: 3 })).toThrow(
      /state\/dictionary has shape \[5, 3\], the config needs \[6, 3\]/,
    );
  });
});

describe('codebook health', () => {
  it('perplexity, unused fraction and largest share by hand', () => {
    expect(codebookHealth([2, 2, 0, 0])).toEqual({ perplexity: 2, unusedFraction: 0.5, maxShare: 0.5 });
    const h = codebookHealth(codeHistogram([0, 0, 0, 1], 4));
    // p = (3/4, 1/4): H = −(3/4 ln 3/4 + 1/4 ln 1/4).
    expect(h.perplexity).toBeCloseTo(Math.exp(-(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25))), 12);
    expect(h.unusedFraction).toBe(0.5);
    expect(h.maxShare).toBe(0.75);
    expect(codebookHealth([1, 1, 1, 1, 1, 1, 1, 1]).perplexity).toBeCloseTo(8, 12);
    expect(codebookHealth([0.05, 3, 0.2], 0.1).unusedFraction).toBeCloseTo(1 / 3, 12);
  });
});
