/**
 * The two messages of the actor–learner system, their zod schemas, and their bytes (packing.ts):
 *
 * - a rollout job (learner → actors, the BullMQ job's data): which run, update step and shard of the step's batch,
 *   the shard's sampling seed (an RNG state derived from the run seed, the step and the shard: rollout.ts `jobRng`),
 *   the weight version to sample with, and the training images (indices into the task's `train` split);
 * - a rollout result (actor → learner, a Redis value): the shard's N samples per image as the rollout made them
 *   (tokens, rewards, the sampler's per-token log-probs, and what the estimator needs: greedy rewards, per-token
 *   rewards, token values with their enumerated flags, the task's per-sample extras), and who made it and when.
 *
 * Dimension legend: B images in the shard, N samples per image, L sequence length, V vocabulary, K enumerated
 * positions.
 */
import * as E from 'fp-ts/Either';
import { z } from 'zod';
import type { RngState } from '@reward-tune/core-model';
import type { ScoredSamples } from '@reward-tune/reinforce';
import { pack, unpack, type Packed } from './packing';

const count = z.number().int().nonnegative();
const uint32 = z.number().int().min(0).max(0xffffffff);
/** Run names become Redis keys and BullMQ queue names. */
export const runNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,100}$/, 'a run name is 1–100 letters, digits, dots, dashes or underscores');

export const rolloutJobSchema = z
  .object({
    run: runNameSchema,
    step: count,
    shard: count,
    version: count,
    seed: z
      .tuple([uint32, uint32, uint32, uint32])
      .refine((s) => s.some((w) => w !== 0), 'an RNG state cannot be all zero'),
  })
  .strict();

export interface RolloutJob extends z.output<typeof rolloutJobSchema> {
  /** [B] indices into the `train` image table. */
  readonly images: Int32Array;
}

export const rolloutMetaSchema = z
  .object({
    run: runNameSchema,
    step: count,
    shard: count,
    version: count,
    batch: z.number().int().positive(),
    samples: z.number().int().positive(),
    length: z.number().int().positive(),
    /** V, when the result carries token values. */
    vocab: z.number().int().positive().optional(),
    /** Which actor made it (host:pid), and when it started and finished the job (ms since the epoch). */
    actor: z.string().min(1),
    startedAt: z.number(),
    finishedAt: z.number(),
    /** [B·N] the task's per-sample extras (null where it gave none). */
    aux: z.array(z.unknown()),
  })
  .strict();

export interface RolloutResult<A = unknown> extends Omit<
  z.output<typeof rolloutMetaSchema>,
  'batch' | 'samples' | 'length' | 'vocab' | 'aux'
> {
  readonly samples: number;
  /** The rollout as reinforce's `sampleAndReward` returned it, the sampler's log-probs included. */
  readonly scored: ScoredSamples<A> & { readonly logProbs: Float32Array };
}

const JOB = 'rollout-job';
const RESULT = 'rollout-result';

export function encodeJob(job: RolloutJob): Buffer {
  const { images, ...meta } = job;
  return pack(JOB, meta, { images });
}

export function decodeJob(bytes: Uint8Array): E.Either<string, RolloutJob> {
  return E.chain((m: { kind: string; meta: unknown; arrays: ReadonlyMap<string, Packed> }) => {
    if (m.kind !== JOB) return E.left(`expected a ${JOB}, got a ${m.kind}`);
    const meta = rolloutJobSchema.safeParse(m.meta);
    if (!meta.success) return E.left(`${JOB}: ${z.prettifyError(meta.error)}`);
    const images = m.arrays.get('images');
    if (!(images instanceof Int32Array) || m.arrays.size !== 1)
      return E.left(`${JOB}: expected one i32 array 'images'`);
    return E.right({ ...meta.data, images });
  })(unpack(bytes));
}

export function encodeResult<A>(r: RolloutResult<A>): Buffer {
  const s = r.scored;
  const b = s.rewards.length / r.samples;
  let values: Float32Array | undefined;
  if (s.tokenValues) {
    // Only the enumerated rows: the rollout leaves every other row zero, and rebuilds them so (decodeResult).
    const { enumerated, vocab } = s.tokenValues;
    const rows = enumerated.reduce((k, e) => k + (e ? 1 : 0), 0);
    values = new Float32Array(rows * vocab);
    let k = 0;
    enumerated.forEach(
      (e, i) => e && values!.set(s.tokenValues!.values.subarray(i * vocab, (i + 1) * vocab), k++ * vocab),
    );
  }
  const meta: z.input<typeof rolloutMetaSchema> = {
    run: r.run,
    step: r.step,
    shard: r.shard,
    version: r.version,
    batch: b,
    samples: r.samples,
    length: s.length,
    vocab: s.tokenValues?.vocab,
    actor: r.actor,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    aux: s.aux.map((a) => (a === undefined ? null : a)),
  };
  return pack(RESULT, meta, {
    tokens: s.tokens,
    rewards: s.rewards,
    logProbs: s.logProbs,
    greedyRewards: s.greedyRewards,
    tokenRewards: s.tokenRewards,
    enumerated: s.tokenValues?.enumerated,
    values,
  });
}

/** A result back, every array's length checked against B, N, L (and V). */
export function decodeResult(bytes: Uint8Array): E.Either<string, RolloutResult> {
  return E.chain(
    (m: { kind: string; meta: unknown; arrays: ReadonlyMap<string, Packed> }): E.Either<string, RolloutResult> => {
      if (m.kind !== RESULT) return E.left(`expected a ${RESULT}, got a ${m.kind}`);
      const parsed = rolloutMetaSchema.safeParse(m.meta);
      if (!parsed.success) return E.left(`${RESULT}: ${z.prettifyError(parsed.error)}`);
      const meta = parsed.data;
      const { batch: b, samples: n, length: l } = meta;
      const problems: string[] = [];
      const get = <T extends Packed>(
        name: string,
        type: new (n: number) => T,
        length: number,
        optional = false,
      ): T | undefined => {
        const a = m.arrays.get(name);
        if (a === undefined) {
          if (!optional) problems.push(`'${name}' missing`);
          return undefined;
        }
        if (!(a instanceof type) || a.length !== length) problems.push(`'${name}' is not ${type.name}[${length}]`);
        return a as T;
      };
      const tokens = get('tokens', Int32Array, b * n * l);
      const rewards = get('rewards', Float64Array, b * n);
      const logProbs = get('logProbs', Float32Array, b * n * l);
      const greedyRewards = get('greedyRewards', Float64Array, b, true);
      const tokenRewards = get('tokenRewards', Float64Array, b * n * l, true);
      const enumerated = get('enumerated', Uint8Array, b * n * l, true);
      const rows = enumerated?.reduce((k, e) => k + (e ? 1 : 0), 0) ?? 0;
      const v = meta.vocab ?? 0;
      const packedValues = enumerated ? get('values', Float32Array, rows * v) : undefined;
      if (enumerated && meta.vocab === undefined) problems.push("'enumerated' without a vocab");
      if (meta.aux.length !== b * n) problems.push(`aux has ${meta.aux.length} entries, expected ${b * n}`);
      const known = ['tokens', 'rewards', 'logProbs', 'greedyRewards', 'tokenRewards', 'enumerated', 'values'];
      for (const k of m.arrays.keys()) if (!known.includes(k)) problems.push(`unknown array '${k}'`);
      if (problems.length > 0)
        return E.left(`${RESULT} (step ${meta.step}, shard ${meta.shard}): ${problems.join('; ')}`);
      let tokenValues: ScoredSamples<unknown>['tokenValues'];
      if (enumerated) {
        const values = new Float32Array(b * n * l * v);
        let k = 0;
        enumerated.forEach((e, i) => e && values.set(packedValues!.subarray(k * v, ++k * v), i * v));
        tokenValues = { values, enumerated, vocab: v };
      }
      const scored = {
        tokens: tokens!,
        length: l,
        rewards: rewards!,
        aux: meta.aux.map((a) => (a === null ? undefined : a)),
        logProbs: logProbs!,
        ...(greedyRewards ? { greedyRewards } : {}),
        ...(tokenRewards ? { tokenRewards } : {}),
        ...(tokenValues ? { tokenValues } : {}),
      };
      const { run, step, shard, version, actor, startedAt, finishedAt } = meta;
      return E.right({ run, step, shard, version, actor, startedAt, finishedAt, samples: n, scored });
    },
  )(unpack(bytes));
}

/** The job's seed as core-model's RNG state. */
export const seedState = (job: RolloutJob): RngState => job.seed as unknown as RngState;
