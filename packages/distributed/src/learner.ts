/**
 * The learner: reinforce's tuning loop (`tune`: parameters, optimizer state, the run's RNG, checkpoints, held-out
 * evaluation, the interrupt) with its samples drawn by actors. Each update k:
 *
 *   publish the weights as version k → enqueue the rollout jobs of step k + S (one per `microBatch` part, each with
 *   its seed derived from (seed, step, part) and weight version k) → wait for step k's results, in step order →
 *   the update (with importance weights when S ≥ 1)
 *
 * so step k samples with version k − S (0 at the first S steps): S = 0 is the on-policy loop spread over actors, and
 * with S = 1 the actors sample step k + 1 while the learner updates step k. The jobs are BullMQ jobs with fixed ids,
 * so enqueueing twice (a resumed learner) adds nothing; results live in Redis until a checkpoint covers their step,
 * so a resumed learner reuses every rollout finished before it was killed.
 *
 * While waiting, once a second, it looks after the run: a job that vanished (a Redis that lost its last writes) is
 * enqueued again, a weight version that vanished is published again, a job that failed on the actors stops the run
 * with the actor's error. Every step's train record carries the throughput (rollouts/s per actor, the learner's idle
 * share, queue depth, staleness), and the run's totals go to `throughput` in the result.
 *
 * One file because it is one loop: the step order, the job bookkeeping and the fault handling share its state.
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import {
  batchOf,
  encodeWeights,
  JobSchedule,
  randomBatches,
  tune,
  WeightMirror,
  type Batch,
  type Checkpointer,
  type ImageTable,
  type RolloutSource,
  type RolloutStats,
  type ScoredSamples,
  type TuneOptions,
  type TuneResult,
} from '@reward-tune/reinforce';
import * as E from 'fp-ts/Either';
import { decodeResult, encodeJob, type RolloutResult } from './messages';
import { bullConnection, jobId, keys, QUEUE_PREFIX, queueName, RunRedis, sleep } from './redis';
import { runMetaSchema, type RunMeta } from './run-meta';
import { WeightStore } from './weights';

export interface LearnerOptions<E, P, A> extends Omit<TuneOptions<E, P, A>, 'rollouts' | 'importanceClip' | 'train'> {
  readonly redisUrl: string;
  readonly run: string;
  /** The tool whose task this is (actors check it) and its whole config (actors set their task up from it). */
  readonly tool: string;
  readonly taskConfig: unknown;
  /** The `train` split the jobs index into. */
  readonly table: ImageTable<E>;
  /** S: step k samples with weight version k − S. */
  readonly staleness: number;
  /** c of the truncated importance weight min(c, π/μ) (S ≥ 1; default 2). */
  readonly clip?: number;
  /** BullMQ's job lock (ms, default 30 000): a killed actor's job is redone this long after. */
  readonly lockMs?: number;
  /** A new run: anything Redis holds under the run's name is dropped first. Otherwise it is resumed. */
  readonly fresh: boolean;
  /** Where the weight versions a resumed run may need go beside the checkpoints. */
  readonly mirrorDir?: string;
  /** How long Redis may be away before the run stops (ms, default 30 000). */
  readonly outageMs?: number;
  /** Notices (one line each): jobs enqueued again, versions published again. */
  readonly notice?: (line: string) => void;
  /** How often the learner looks for finished results while it waits (ms, default 5). */
  readonly pollMs?: number;
}

/** Rollouts per second of one actor: its samples over the span from its first job's start to its last job's end. */
export interface ActorThroughput {
  readonly samples: number;
  readonly jobs: number;
  readonly rolloutsPerSec: number;
}

export interface Throughput {
  readonly updates: number;
  /** Updates per second of the learner's wall time. */
  readonly updatesPerSec: number;
  /** The share of its time the learner waited for rollouts. */
  readonly idleShare: number;
  readonly rolloutsPerSec: number;
  readonly actors: Readonly<Record<string, ActorThroughput>>;
  readonly staleness: number;
  /** Mean number of jobs waiting or running when an update asked for its rollouts. */
  readonly meanQueueDepth: number;
}

export interface LearnerResult extends TuneResult {
  readonly throughput: Throughput;
}

/** Runs (or resumes) a tuning run whose samples the actors of `run` draw; see the file comment. */
export async function runLearner<E, P, A>(opts: LearnerOptions<E, P, A>): Promise<LearnerResult> {
  const { staleness, config } = opts;
  if (!(Number.isInteger(staleness) && staleness >= 0))
    throw new RangeError(`staleness must be an integer ≥ 0, got ${staleness}`);
  const clip = opts.clip ?? 2;
  if (!(clip > 0)) throw new RangeError(`the importance weight's clip must be positive, got ${clip}`);
  const redis = await RunRedis.connect(opts.redisUrl, { outageMs: opts.outageMs });
  const queue = new Queue(queueName(opts.run), { connection: bullConnection(redis.target), prefix: QUEUE_PREFIX });
  queue.on('error', () => undefined); // its connection reconnects by itself; outages are RunRedis's to judge
  try {
    const k = keys(opts.run);
    const guard = guarded(redis);
    if (opts.fresh) await wipeRun(redis, queue, opts.run, guard);
    const previous = await redis.call((c) => c.get(k.meta));
    const meta: RunMeta = {
      run: opts.run,
      runId: (!opts.fresh && previous !== null && tryParseMeta(previous)?.runId) || randomUUID(),
      tool: opts.tool,
      config: opts.taskConfig,
      tune: { ...config, batchSize: config.batchSize ?? 1, steps: config.steps },
      staleness,
      lockMs: opts.lockMs ?? 30_000,
    };
    await redis.call((c) => c.multi().set(k.meta, JSON.stringify(meta)).set(k.state, 'running').exec());
    const source = new RemoteRollouts(opts, redis, queue, guard);
    const result = await tune({
      ...opts,
      config: { ...config, seedDerivation: 'per-job' },
      // Used only by the auxiliary warm-up, which the learner runs itself.
      train: randomBatches(opts.table, config.batchSize ?? 1),
      rollouts: source,
      importanceClip: staleness > 0 ? clip : undefined,
      checkpointer: opts.checkpointer && source.checkpointing(opts.checkpointer),
    });
    if (result.stopped === 'done') {
      await redis.call((c) => c.set(k.state, 'done'));
      await source.dropAll();
    }
    return { ...result, throughput: source.throughput() };
  } finally {
    await Promise.race([queue.close(), sleep(2000)]);
    await redis.close();
  }
}

function tryParseMeta(text: string): RunMeta | undefined {
  try {
    const m = runMetaSchema.safeParse(JSON.parse(text));
    return m.success ? m.data : undefined;
  } catch {
    return undefined;
  }
}

/** Every key of `run` and its queue, gone. */
async function wipeRun(redis: RunRedis, queue: Queue, run: string, guard: Guard): Promise<void> {
  await guard(queue.obliterate({ force: true }));
  let cursor = '0';
  do {
    const [next, found] = await redis.call((c) => c.scan(cursor, 'MATCH', keys(run).pattern, 'COUNT', 1000));
    if (found.length > 0) await redis.call((c) => c.del(...found));
    cursor = next;
  } while (cursor !== '0');
}

type Guard = <T>(p: Promise<T>) => Promise<T>;

/** A BullMQ call that gives up (RedisUnavailable) once Redis has been away past the outage limit. */
function guarded(redis: RunRedis): Guard {
  return async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    const watch = (async (): Promise<never> => {
      for (;;) {
        await sleep(250);
        if (done) return new Promise<never>(() => undefined);
        redis.check();
      }
    })();
    try {
      return await Promise.race([p, watch]);
    } finally {
      done = true;
    }
  };
}

/** The learner's RolloutSource: weights out, jobs out, results in, in step order. */
class RemoteRollouts<E, P, A> implements RolloutSource<E, A> {
  private readonly k: ReturnType<typeof keys>;
  private readonly store: WeightStore;
  private readonly mirror?: WeightMirror;
  /** The blobs of the versions that jobs may still ask for (the last S + 1), for publishing again. */
  private readonly blobs = new Map<number, Buffer>();
  private readonly enqueued = new Set<number>();
  private readonly plan: JobSchedule;
  private cleanedBelow = 0;
  // Throughput.
  private started: number | undefined;
  private waited = 0;
  private updates = 0;
  private depthSum = 0;
  private readonly actors = new Map<string, { samples: number; jobs: number; first: number; last: number }>();

  constructor(
    private readonly opts: LearnerOptions<E, P, A>,
    private readonly redis: RunRedis,
    private readonly queue: Queue,
    private readonly guard: Guard,
  ) {
    this.k = keys(opts.run);
    this.store = new WeightStore(redis, opts.run, opts.staleness + 1);
    this.mirror = opts.mirrorDir !== undefined ? new WeightMirror(opts.mirrorDir) : undefined;
    // tune's per-job randomness derives from the run's RNG state, which it never draws from (and checkpoints as is).
    this.plan = new JobSchedule(opts.rng, opts.config, opts.staleness, opts.table.examples.length);
    for (const v of this.mirror?.versions() ?? []) this.blobs.set(v, this.mirror!.read(v)!);
  }

  async take(step: number): Promise<{ batch: Batch<E>; shards: ScoredSamples<A>[]; stats: RolloutStats }> {
    const t0 = Date.now();
    this.started ??= t0;
    await this.publish(step);
    if (this.updates === 0) await this.republishMissing(step);
    const last = Math.min(step + this.opts.staleness, this.opts.config.steps - 1);
    for (let j = step; j <= last; j++) if (!this.enqueued.has(j)) await this.enqueue(j);
    const counts = await this.guard(this.queue.getJobCounts('waiting', 'active', 'prioritized', 'delayed'));
    const depth = Object.values(counts).reduce((a, b) => a + b, 0);

    const need = Array.from({ length: this.plan.parts }, (_, s) => this.k.result(step, s));
    const waitStart = Date.now();
    let lastLook = waitStart;
    while ((await this.redis.call((c) => c.exists(...need))) < need.length) {
      if (Date.now() - lastLook > 1000) {
        await this.lookAfter(step);
        lastLook = Date.now();
      }
      await sleep(this.opts.pollMs ?? 5);
    }
    const waitMs = Date.now() - waitStart;
    const blobs = await this.redis.call((c) => c.mgetBuffer(...need));
    const results = blobs.map((blob, s) => this.check(step, s, blob));
    for (const r of results) this.count(r);

    this.waited += waitMs;
    this.updates += 1;
    this.depthSum += depth;
    const elapsed = Date.now() - this.started;
    const actors = Object.fromEntries([...this.actors].map(([id, a]) => [id, round(rate(a))]));
    return {
      batch: batchOf(this.opts.table, this.plan.indices(step)),
      shards: results.map((r) => r.scored as ScoredSamples<A>),
      stats: {
        version: this.plan.version(step),
        staleness: step - this.plan.version(step),
        waitMs,
        idleShare: round(this.waited / Math.max(1, elapsed)),
        queueDepth: depth,
        rolloutsPerSec: round(Object.values(actors).reduce((a, b) => a + b, 0)),
        actors,
        takeMs: Date.now() - t0,
      },
    };
  }

  /** A result checked against the job it answers. */
  private check(step: number, shard: number, blob: Buffer | null): RolloutResult {
    if (blob === null) throw new Error(`the result of step ${step} shard ${shard} vanished from Redis`);
    const decoded = decodeResult(blob);
    if (E.isLeft(decoded)) throw new Error(`step ${step} shard ${shard}: ${decoded.left}`);
    const r = decoded.right;
    const count = Math.min(this.plan.micro, this.plan.batch - shard * this.plan.micro);
    const expected = {
      run: this.opts.run,
      step,
      shard,
      version: this.plan.version(step),
      samples: this.opts.config.numSamples,
    };
    const got = { run: r.run, step: r.step, shard: r.shard, version: r.version, samples: r.samples };
    if (JSON.stringify(got) !== JSON.stringify(expected) || r.scored.rewards.length !== count * r.samples) {
      throw new Error(
        `step ${step} shard ${shard}: the result answers ${JSON.stringify(got)}, not ${JSON.stringify(expected)}`,
      );
    }
    return r;
  }

  private count(r: RolloutResult): void {
    const a = this.actors.get(r.actor) ?? { samples: 0, jobs: 0, first: r.startedAt, last: r.finishedAt };
    a.samples += r.scored.rewards.length;
    a.jobs += 1;
    a.first = Math.min(a.first, r.startedAt);
    a.last = Math.max(a.last, r.finishedAt);
    this.actors.set(r.actor, a);
  }

  /** Version `step` (the policy now) into the store, and the blobs kept for publishing again. */
  private async publish(step: number): Promise<void> {
    const blob = await encodeWeights(this.opts.policy.params, step);
    await this.store.publish(step, blob);
    this.blobs.set(step, blob);
    for (const v of this.blobs.keys()) if (v < step - this.opts.staleness) this.blobs.delete(v);
  }

  /** The versions jobs of steps ≥ `step` may still need, published again where Redis lost them. */
  private async republishMissing(step: number): Promise<void> {
    const versions = [...this.blobs.keys()].filter((v) => v >= this.plan.version(step) && v <= step);
    const stored = await this.store.stored(versions);
    for (const [i, v] of versions.entries()) {
      if (stored[i]) continue;
      await this.store.publish(v, this.blobs.get(v)!);
      this.opts.notice?.(`weight version ${v} was missing from Redis; published it again`);
    }
  }

  private async enqueue(step: number): Promise<void> {
    const indices = Int32Array.from(this.plan.indices(step));
    for (let s = 0; s < this.plan.parts; s++) await this.enqueuePart(step, s, indices);
    this.enqueued.add(step);
  }

  private async enqueuePart(step: number, shard: number, indices: Int32Array): Promise<void> {
    if ((await this.redis.call((c) => c.exists(this.k.result(step, shard)))) === 1) return; // done before a restart
    const msg = encodeJob({
      run: this.opts.run,
      step,
      shard,
      version: this.plan.version(step),
      seed: [...this.plan.partSeed(step, shard)] as [number, number, number, number],
      images: this.plan.partImages(indices, shard),
    });
    await this.guard(
      this.queue.add(
        'rollout',
        { msg: msg.toString('base64') },
        {
          jobId: jobId(step, shard),
          attempts: 3,
          backoff: { type: 'fixed', delay: 1000 },
          removeOnComplete: false,
          removeOnFail: false,
        },
      ),
    );
  }

  /** While waiting for `step`: jobs or versions Redis lost come back; a job the actors failed stops the run. */
  private async lookAfter(step: number): Promise<void> {
    for (let s = 0; s < this.plan.parts; s++) {
      if ((await this.redis.call((c) => c.exists(this.k.result(step, s)))) === 1) continue;
      const job = await this.guard(this.queue.getJob(jobId(step, s)));
      if (job === undefined) {
        this.opts.notice?.(`rollout job ${jobId(step, s)} was missing from Redis; enqueued it again`);
        await this.enqueuePart(step, s, Int32Array.from(this.plan.indices(step)));
      } else {
        const state = await this.guard(job.getState());
        if (state === 'failed')
          throw new Error(`rollout job ${jobId(step, s)} failed on the actors: ${job.failedReason}`);
        if (state === 'completed') {
          // Completed, yet its result is gone (a Redis that lost its last writes): once more.
          this.opts.notice?.(`rollout job ${jobId(step, s)} completed but its result is missing; enqueued it again`);
          await this.guard(job.remove());
          await this.enqueuePart(step, s, Int32Array.from(this.plan.indices(step)));
        }
      }
    }
    await this.republishMissing(step);
  }

  /** The run's checkpointer, which also keeps the versions a resumed run may need and drops what it covers. */
  checkpointing(inner: Checkpointer): Checkpointer {
    return {
      loadLatest: () => inner.loadLatest(),
      save: async (state) => {
        await inner.save(state);
        const c = state.step;
        this.mirror?.saveFor(c, this.opts.staleness, this.blobs);
        // Rollouts and jobs of the steps the checkpoint covers are no longer needed, even by a resumed run.
        for (let j = this.cleanedBelow; j < c; j++) {
          const results = Array.from({ length: this.plan.parts }, (_, s) => this.k.result(j, s));
          await this.redis.call((cl) => cl.del(...results));
          for (let s = 0; s < this.plan.parts; s++) await this.guard(this.queue.remove(jobId(j, s)));
        }
        this.cleanedBelow = Math.max(this.cleanedBelow, c);
      },
    };
  }

  /** At the end of a finished run: the weights and results go (the completion counts stay, for inspection). */
  async dropAll(): Promise<void> {
    let cursor = '0';
    do {
      const [next, found] = await this.redis.call((c) =>
        c.scan(cursor, 'MATCH', `rt:${this.opts.run}:[wr]:*`, 'COUNT', 1000),
      );
      if (found.length > 0) await this.redis.call((c) => c.del(...found));
      cursor = next;
    } while (cursor !== '0');
    await this.redis.call((c) => c.del(this.k.versions));
  }

  throughput(): Throughput {
    const elapsed = this.started === undefined ? 0 : Date.now() - this.started;
    const actors = Object.fromEntries(
      [...this.actors].map(([id, a]) => [id, { samples: a.samples, jobs: a.jobs, rolloutsPerSec: round(rate(a)) }]),
    );
    return {
      updates: this.updates,
      updatesPerSec: round(this.updates / Math.max(1e-3, elapsed / 1000)),
      idleShare: round(this.waited / Math.max(1, elapsed)),
      rolloutsPerSec: round(Object.values(actors).reduce((a, b) => a + b.rolloutsPerSec, 0)),
      actors,
      staleness: this.opts.staleness,
      meanQueueDepth: round(this.depthSum / Math.max(1, this.updates)),
    };
  }
}

const rate = (a: { samples: number; first: number; last: number }): number =>
  a.samples / Math.max(1e-3, (a.last - a.first) / 1000);
const round = (x: number): number => Math.round(x * 1000) / 1000;
