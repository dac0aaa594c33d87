/**
 * An actor: a BullMQ worker on a run's rollout queue. It waits for the run's learner to publish the run, sets the task
 * up from the run's config (the caller's `setup`: the task, its `train` images, a policy), then for each job:
 *
 *   the job's weight version (cached: fetched only when it changes) → the job's images from the train split →
 *   N samples per image with the job's seed (reinforce's sampleAndReward, exactly as the local loop samples a part)
 *   → decode, reward, and what the estimator needs → the result into Redis → the job completes
 *
 * A job is a pure function of its content, so a job done twice (a killed actor's job that came back when its lock
 * lapsed, or one delivered twice) gives the same bytes. The actor stops when the learner marks the run done (or it
 * finds the run done on arrival), when a fresh run takes over the name, or (RedisUnavailable) when Redis stays away
 * past the outage limit.
 */
import { hostname } from 'node:os';
import { Worker, type Job } from 'bullmq';
import * as E from 'fp-ts/Either';
import type { SequencePolicy } from '@reward-tune/core-model';
import { ESTIMATOR_SPECS, sampleJob, type Estimator, type ImageTable, type Task } from '@reward-tune/reinforce';
import { decodeJob, encodeResult, seedState } from './messages';
import { bullConnection, keys, QUEUE_PREFIX, queueName, RunRedis, sleep } from './redis';
import { runMetaSchema, type RunMeta } from './run-meta';
import { WeightCache, WeightStore } from './weights';

/** What an actor samples with, set up from the run's meta. */
export interface ActorSetup<E, P, A> {
  readonly task: Task<E, P, A>;
  /** The `train` split, as the learner's (the jobs index into it). */
  readonly table: ImageTable<E>;
  /** The policy the weights are loaded into (the learner's policy: same parameters, same logits processors). */
  readonly policy: SequencePolicy;
}

export interface ActorOptions<E, P, A> {
  readonly redisUrl: string;
  readonly run: string;
  /** The tool this actor serves: a run of another tool is refused. */
  readonly tool: string;
  readonly setup: (meta: RunMeta) => ActorSetup<E, P, A> | Promise<ActorSetup<E, P, A>>;
  /** This actor's name in the throughput report (default host:pid). */
  readonly id?: string;
  /** How long Redis may be away before the actor stops (ms, default 30 000). */
  readonly outageMs?: number;
  /** One line per event (waiting for the learner, each job started and completed). */
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
  /** Test hook: extra milliseconds spent on each job after sampling (to kill an actor in the middle of one). */
  readonly jobDelayMs?: number;
}

export interface ActorResult {
  readonly jobs: number;
  /** Why it stopped. */
  readonly stopped: 'done' | 'replaced' | 'aborted';
}

/** Serves `run` until it is done; see the file comment. */
export async function runActor<E, P, A>(opts: ActorOptions<E, P, A>): Promise<ActorResult> {
  const id = opts.id ?? `${hostname()}:${process.pid}`;
  const log = opts.log ?? (() => undefined);
  const redis = await RunRedis.connect(opts.redisUrl, { outageMs: opts.outageMs });
  const k = keys(opts.run);
  let worker: Worker | undefined;
  try {
    const meta = await waitForRun(redis, opts, log);
    if (meta === 'done') return { jobs: 0, stopped: 'done' };
    if (meta === undefined) return { jobs: 0, stopped: 'aborted' };
    if (meta.tool !== opts.tool) throw new Error(`run ${opts.run} tunes a ${meta.tool} task, not ${opts.tool}`);
    const setup = await opts.setup(meta);
    const cache = new WeightCache(new WeightStore(redis, opts.run, meta.staleness + 1), setup.policy.params);
    const tuneSection = meta.tune;
    const needs = ESTIMATOR_SPECS[(tuneSection.estimator ?? 'paper') as Estimator]?.needs;
    if (needs === undefined) throw new Error(`run ${opts.run}: unknown estimator '${tuneSection.estimator}'`);
    let jobs = 0;
    let failure: unknown;

    const processJob = async (job: Job<{ msg: string }>): Promise<{ bytes: number }> => {
      const startedAt = Date.now();
      const decoded = decodeJob(Buffer.from(job.data.msg, 'base64'));
      if (E.isLeft(decoded)) throw new Error(`job ${job.id}: ${decoded.left}`);
      const j = decoded.right;
      log(`start ${job.id} step ${j.step} shard ${j.shard} version ${j.version}`);
      await cache.ensure(j.version);
      const scored = await sampleJob(setup, tuneSection, j.images, seedState(j));
      if (opts.jobDelayMs) await sleep(opts.jobDelayMs);
      const bytes = encodeResult({
        run: j.run,
        step: j.step,
        shard: j.shard,
        version: j.version,
        actor: id,
        startedAt,
        finishedAt: Date.now(),
        samples: tuneSection.numSamples,
        scored: { ...scored, logProbs: scored.logProbs! },
      });
      await redis.call((c) => c.set(k.result(j.step, j.shard), bytes));
      return { bytes: bytes.length };
    };

    worker = new Worker(queueName(opts.run), processJob, {
      connection: bullConnection(redis.target),
      prefix: QUEUE_PREFIX,
      concurrency: 1,
      lockDuration: meta.lockMs,
      stalledInterval: meta.lockMs,
      // A job may come back any number of times (actors killed one after another): never give up on it for that.
      maxStalledCount: 1000,
    });
    worker.on('error', () => undefined); // reconnects by itself; RunRedis judges outages
    worker.on('completed', (job: Job) => {
      jobs += 1;
      const field = String(job.id);
      log(`done ${field}`);
      redis
        .call((c) => c.multi().hincrby(k.completions, field, 1).hset(k.completedBy, field, id).exec())
        .catch((err: unknown) => (failure ??= err));
    });
    worker.on('failed', (job: Job | undefined, err: Error) => log(`failed ${job?.id ?? '?'}: ${err.message}`));

    // The run's state, once a second: done, or taken over by a fresh run of the same name.
    for (;;) {
      if (failure !== undefined) throw failure;
      if (opts.signal?.aborted) return { jobs, stopped: 'aborted' };
      const [state, current] = await redis.call((c) => Promise.all([c.get(k.state), c.get(k.meta)]));
      if (state === 'done') return { jobs, stopped: 'done' };
      const now = current === null ? undefined : parseMeta(current);
      if (now !== undefined && now.runId !== meta.runId) {
        log(`run ${opts.run} was started afresh; stopping (start the actor again to serve it)`);
        return { jobs, stopped: 'replaced' };
      }
      await sleep(1000);
    }
  } finally {
    if (worker) await Promise.race([worker.close(true), sleep(2000)]);
    await redis.close();
  }
}

function parseMeta(text: string): RunMeta | undefined {
  try {
    const m = runMetaSchema.safeParse(JSON.parse(text));
    return m.success ? m.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The run's meta, once its learner has published it; 'done' when the run has already finished (an actor that came up
 * after its fellow actors served every job: waiting would never end); undefined when aborted first.
 */
async function waitForRun(
  redis: RunRedis,
  opts: ActorOptions<unknown, unknown, unknown>,
  log: (line: string) => void,
): Promise<RunMeta | 'done' | undefined> {
  const k = keys(opts.run);
  let told = false;
  for (;;) {
    if (opts.signal?.aborted) return undefined;
    const [state, text] = await redis.call((c) => Promise.all([c.get(k.state), c.get(k.meta)]));
    if (text !== null && state === 'running') {
      const meta = runMetaSchema.safeParse(JSON.parse(text));
      if (!meta.success)
        throw new Error(`run ${opts.run}: its meta in Redis is not a run's (${meta.error.issues[0]?.message})`);
      return meta.data;
    }
    if (text !== null && state === 'done') {
      log(`run ${opts.run} has already finished`);
      return 'done';
    }
    if (!told) log(`waiting for the learner of run ${opts.run}`);
    told = true;
    await sleep(500);
  }
}
