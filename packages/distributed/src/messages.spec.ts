// The messages' bytes: every field comes back bit for bit (NaN, −0 and typed arrays in the task's extras included),
// and a damaged or inconsistent message is refused with a line that says why.
import * as E from 'fp-ts/Either';
import { decodeJob, decodeResult, encodeJob, encodeResult, type RolloutJob, type RolloutResult } from './messages';
import { pack, packJson, unpack, unpackJson } from './packing';

const right = <T>(e: E.Either<string, T>): T => {
  if (E.isLeft(e)) throw new Error(e.left);
  return e.right;
};
const left = <T>(e: E.Either<string, T>): string => {
  if (E.isRight(e)) throw new Error('expected a Left');
  return e.left;
};

const job: RolloutJob = {
  run: 'det-1',
  step: 12,
  shard: 3,
  version: 11,
  seed: [1, 0xffffffff, 7, 0],
  images: Int32Array.from([4, 0, 63]),
};

/** B = 2 images, N = 2 samples, L = 3, V = 4; the second sample of each image enumerates its first position. */
function result(): RolloutResult<{ iou: Float64Array; n: number }> {
  const b = 2;
  const n = 2;
  const l = 3;
  const v = 4;
  const enumerated = Uint8Array.from({ length: b * n * l }, (_, i) => (i % (n * l) === l ? 1 : 0));
  const values = new Float32Array(b * n * l * v);
  enumerated.forEach((e, i) => e && values.set([0.5, -1.25, 3e-8, 1 / 3], i * v));
  return {
    run: 'det-1',
    step: 12,
    shard: 3,
    version: 11,
    actor: 'host-a:123',
    startedAt: 1000.5,
    finishedAt: 2000.25,
    samples: n,
    scored: {
      tokens: Int32Array.from({ length: b * n * l }, (_, i) => (i * 7) % v),
      length: l,
      rewards: Float64Array.from([0.1, 1 / 3, -0, Math.PI]),
      aux: [
        { iou: Float64Array.from([NaN, 0.7]), n: -0 },
        undefined,
        { iou: new Float64Array(), n: Infinity },
        { iou: Float64Array.from([1e-300]), n: 1 },
      ],
      greedyRewards: Float64Array.from([0.25, 2 / 3]),
      tokenRewards: Float64Array.from({ length: b * n * l }, (_, i) => i / 7),
      tokenValues: { values, enumerated, vocab: v },
      logProbs: Float32Array.from({ length: b * n * l }, (_, i) => -i / 3),
    },
  };
}

it('a job round-trips, and a job with a bad field is refused naming it', () => {
  expect(right(decodeJob(encodeJob(job)))).toEqual(job);
  const bad = pack(
    'rollout-job',
    { run: 'det 1', step: -1, shard: 0, version: 0, seed: [0, 0, 0, 0] },
    { images: new Int32Array(1) },
  );
  const why = left(decodeJob(bad));
  expect(why).toMatch(/run/);
  expect(why).toMatch(/step/);
  expect(why).toMatch(/all zero/);
  expect(left(decodeJob(encodeResult(result())))).toMatch(/expected a rollout-job/);
});

it('a result round-trips bit for bit, extras included', () => {
  const r = result();
  const back = right(decodeResult(encodeResult(r)));
  expect(back).toEqual(r);
  expect(Object.is((back.scored.aux[0] as { n: number }).n, -0)).toBe(true);
  expect(Object.is(back.scored.rewards[2], -0)).toBe(true);
  expect((back.scored.aux[0] as { iou: Float64Array }).iou).toBeInstanceOf(Float64Array);
  expect(Number.isNaN((back.scored.aux[0] as { iou: Float64Array }).iou[0])).toBe(true);
  expect(back.scored.aux[1]).toBeUndefined();
});

it('only the enumerated rows of the token values travel', () => {
  const r = result();
  const dense = encodeResult(r).length;
  const withoutValues = encodeResult({ ...r, scored: { ...r.scored, tokenValues: undefined } }).length;
  // 4 enumerated rows × V = 4 floats (+ the 12 flags), not 2·2·3·4 = 48 floats.
  expect(dense - withoutValues).toBeLessThan(4 * 4 * 4 + 16 + 64);
});

it('a result without the optional arrays round-trips without them', () => {
  const r = result();
  const { greedyRewards, tokenRewards, tokenValues, ...plain } = r.scored;
  void greedyRewards;
  void tokenRewards;
  void tokenValues;
  const back = right(decodeResult(encodeResult({ ...r, scored: plain })));
  expect(back.scored).toEqual(plain);
  expect('tokenValues' in back.scored).toBe(false);
});

it('truncated, inconsistent or foreign bytes are refused', () => {
  const bytes = encodeResult(result());
  expect(left(decodeResult(bytes.subarray(0, bytes.length - 8)))).toMatch(/past the end|after its last/);
  expect(left(decodeResult(Buffer.from('hello world, not a message')))).toMatch(/magic/);
  expect(left(decodeResult(bytes.subarray(0, 5)))).toMatch(/too short/);
  const r = result();
  const short = encodeResult({ ...r, scored: { ...r.scored, logProbs: new Float32Array(5) } });
  expect(left(decodeResult(short))).toMatch(/'logProbs' is not Float32Array\[12\]/);
  expect(left(decodeResult(pack('rollout-result', { run: 'x' }, {})))).toMatch(/rollout-result: .*step/s);
  const noTokens = unpack(bytes);
  expect(E.isRight(noTokens)).toBe(true);
});

it('packJson keeps what JSON cannot spell', () => {
  const v = { a: [NaN, Infinity, -Infinity, -0, 0.1], t: Uint8Array.from([1, 2]), f: Float32Array.from([0.1]) };
  const back = unpackJson(packJson(v)) as typeof v;
  expect(back).toEqual(v);
  expect(Object.is(back.a[3], -0)).toBe(true);
  expect(back.f).toBeInstanceOf(Float32Array);
});
