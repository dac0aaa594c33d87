// Logits processors: forced tokens, suppression, slot masks, prefix rules, and the teacher-forcing bias built from
// them.
import { initBackend, readTensor } from '../backend';
import * as tf from '@tensorflow/tfjs-core';
import {
  allowedAt,
  forcedTokens,
  prefixConstraint,
  sequenceBias,
  slotMask,
  suppressTokens,
  tokensTensor,
  tokensTensorValues,
  tokenSet,
} from './logits-processors';
import { NEG } from './ops';

const ctx = (position: number, tokens: number[], rows = 1, length = 4, vocabSize = 5) => ({
  position,
  rows,
  length,
  vocabSize,
  tokens: Int32Array.from(tokens),
});

beforeAll(async () => {
  await initBackend('wasm', { quiet: true });
});

describe('logits processors', () => {
  it('forced tokens leave exactly one token allowed at their position', () => {
    const p = [forcedTokens(new Map([[1, 3]]))];
    expect(Array.from(allowedAt(p, ctx(1, [0, 0, 0, 0]))!)).toEqual([0, 0, 0, 1, 0]);
    expect(Array.from(allowedAt(p, ctx(0, [0, 0, 0, 0]))!)).toEqual([1, 1, 1, 1, 1]);
  });

  it('slot masks repeat with their period and intersect with suppression', () => {
    const p = [slotMask([tokenSet(5, [[0, 2]]), tokenSet(5, [[2, 5]])]), suppressTokens([3])];
    expect(Array.from(allowedAt(p, ctx(2, [0, 0, 0, 0]))!)).toEqual([1, 1, 0, 0, 0]);
    expect(Array.from(allowedAt(p, ctx(3, [0, 0, 0, 0]))!)).toEqual([0, 0, 1, 0, 1]);
  });

  it('prefix constraints see each row’s own earlier tokens', () => {
    const p = [prefixConstraint((t, prefix) => (t === 1 ? tokenSet(5, [[prefix[0], 5]]) : null))];
    const a = allowedAt(p, ctx(1, [3, 0, 0, 0, 1, 0, 0, 0], 2))!;
    expect(Array.from(a)).toEqual([0, 0, 0, 1, 1, 0, 1, 1, 1, 1]);
  });

  it('forbidding every token is an error, not a silent uniform distribution', () => {
    const p = [forcedTokens(new Map([[0, 1]])), suppressTokens([1])];
    expect(() => allowedAt(p, ctx(0, [0, 0, 0, 0]))).toThrow(/forbid every token at position 0/);
  });

  it('sequenceBias: [1, L, V] for static processors, [R, L, V] for dynamic ones, NEG where forbidden', async () => {
    const stat = sequenceBias([slotMask([tokenSet(3, [[0, 1]]), tokenSet(3, [[1, 3]])])], null, 2, 2, 3)!;
    expect(stat.shape).toEqual([1, 2, 3]);
    expect(Array.from(await readTensor(stat))).toEqual([0, NEG, NEG, NEG, 0, 0]);
    const dyn = sequenceBias(
      [prefixConstraint((t, pre) => (t === 1 ? tokenSet(3, [[pre[0], pre[0] + 1]]) : null))],
      Int32Array.from([2, 0, 0, 0]),
      2,
      2,
      3,
    )!;
    expect(dyn.shape).toEqual([2, 2, 3]);
    expect(Array.from(await readTensor(dyn))).toEqual([0, 0, 0, NEG, NEG, 0, 0, 0, 0, 0, NEG, NEG]);
  });

  it('tokensTensor keeps a copy of its values, for teacher forcing under dynamic processors where no read is possible', async () => {
    const values = Int32Array.from([1, 2, 3, 4, 5, 6]);
    const t = tokensTensor(values, [2, 3]);
    values[0] = 99; // the caller's array is not the tensor's
    expect(Array.from(tokensTensorValues(t)!)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(await readTensor(t))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.dtype).toBe('int32');
    const other = tf.tensor2d([[1, 2, 3]], [1, 3], 'int32');
    expect(tokensTensorValues(other)).toBeUndefined();
    tf.dispose([t, other]);
  });
});
