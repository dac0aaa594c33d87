/**
 * Sampling in a second process (`tune.sampler.kind` 'process'), or several (`tune.sampler.processes`). The tuning
 * loop stays the learner: it owns the parameters, the optimizer, the checkpoints and the evaluation. A child process
 * (the task's own CLI, command `sampler`) sets the task up from the run's config and, for each part of each update's
 * batch it is given (part p of n children goes to child p mod n), samples N outputs per image, decodes and scores
 * them (`sampleAndReward`, as the loop itself would) with the weight version the learner sent it. Update k samples
 * with version max(0, k − S):
 *
 *   - S = 0: the child samples while the learner waits; the updates are the loop's own with
 *     `tune.seedDerivation` 'per-job' (each part's randomness derives from (seed, step, part)), bit for bit.
 *   - S = 1: the child samples update k + 1 while the learner makes update k, so the second core works; update k + 1
 *     corrects for the one-update-old policy with the truncated importance weight min(c, π/μ) (tune's
 *     `importanceClip`). The run is a function of the seed and S.
 *
 * Messages go over Node's IPC channel (structured clone). Learner → child: `setup` (the run's config, the runs root),
 * `weights` (version, and the file holding its safetensors blob, which the child deletes once loaded), `job` (step,
 * part, version, RNG state, image indices). Child → learner: `ready`, `result` (the part's ScoredSamples), `error`.
 * The child handles them one at a time in order, so a job samples with the last weights sent before it. The weights
 * go through a file because the channel moves a message only while the sender's event loop turns, and the learner's
 * update keeps it busy: a blob of megabytes sent at the start of update k would reach the child at its end. The
 * versions a resumed run still needs (S of them, before its checkpoint's) go beside the checkpoints (`WeightMirror`),
 * so a resumed run repeats the uninterrupted one.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Rng, UsageError, type Params, type RngState, type SequencePolicy } from '@reward-tune/core-model';
import { batchOf, type ImageTable } from './batches';
import type { TuneConfig } from './config-sections';
import { ESTIMATOR_SPECS, type Estimator } from './estimators';
import type { Checkpointer } from './loop';
import { JobSchedule } from './job-schedule';
import { sampleAndReward, type ScoredSamples } from './rollout';
import { imagesTensor, type Batch, type Task } from './task';
import type { RolloutSource, RolloutStats } from './tune';
import { encodeWeights, loadWeightVersion, WeightMirror } from './weight-versions';

/** What the sampler process samples with: the task, the `train` split the jobs index into, the learner's policy. */
export interface SamplerSetup<E, P, A> {
  readonly task: Task<E, P, A>;
  readonly table: ImageTable<E>;
  readonly policy: SequencePolicy;
}

type ToChild =
  | { readonly type: 'setup'; readonly config: unknown; readonly out: string; readonly tune: TuneConfig }
  | { readonly type: 'weights'; readonly version: number; readonly file: string }
  | {
      readonly type: 'job';
      readonly step: number;
      readonly part: number;
      readonly version: number;
      readonly seed: RngState;
      readonly images: Int32Array;
    };

type Result = {
  readonly type: 'result';
  readonly step: number;
  readonly part: number;
  readonly version: number;
  readonly scored: ScoredSamples<unknown>;
};
type FromChild = { readonly type: 'ready' } | Result | { readonly type: 'error'; readonly message: string };

export interface ProcessSamplerOptions<E> {
  /**
   * The children: each started with an IPC channel, running `serveSampler` (see `forkSampler`). Part p of an update's
   * batch goes to child p mod n; each part's seed is its own, so the samples do not depend on how many there are.
   */
  readonly children: readonly ChildProcess[];
  /** What the child sets the task up from: the run's whole config and the runs root. */
  readonly config: unknown;
  readonly out: string;
  /** The learner's `train` split (the jobs' images index into it; the child loads the same). */
  readonly table: ImageTable<E>;
  /** The policy's parameters: version k is their value after k updates. */
  readonly params: Params;
  readonly tune: TuneConfig;
  /** The run's RNG (tune's `rng`, never drawn from with per-job seeds): each job's randomness derives from it. */
  readonly rng: Rng;
  /** S: update k samples with version max(0, k − S). */
  readonly staleness: number;
  /** Where the versions a resumed run may need are kept (a folder beside the checkpoints). */
  readonly mirrorDir?: string;
}

/**
 * Starts the task's CLI (`entry`, default this process's script) as the sampler process: `<entry> sampler`, with the
 * backend flag given and an IPC channel; its output goes to this process's stderr.
 */
export function forkSampler(backend: string, entry: string = process.argv[1]): ChildProcess {
  return fork(entry, ['sampler', '--backend', backend], {
    serialization: 'advanced',
    stdio: ['ignore', process.stderr, process.stderr, 'ipc'],
  });
}

/** The learner's side: a RolloutSource whose samples the child process draws; see the file comment. */
export class ProcessRollouts<E, A> implements RolloutSource<E, A> {
  private readonly results = new Map<string, Result>();
  private readyChildren = 0;
  private readonly plan: JobSchedule;
  private readonly mirror?: WeightMirror;
  /** The blobs of the versions jobs may still ask for, and of those a checkpoint's resumed run would need. */
  private readonly blobs = new Map<number, Uint8Array>();
  private readonly sent = new Set<number>();
  private sentVersion = -1;
  private weightFiles = 0;
  /** Where the weight files for the child go (removed on close). */
  private readonly spool = mkdtempSync(path.join(tmpdir(), 'rt-sampler-'));
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private running: number;
  // Throughput.
  private started: number | undefined;
  private waited = 0;

  constructor(private readonly opts: ProcessSamplerOptions<E>) {
    const { children, tune } = opts;
    if (children.length === 0) throw new RangeError('a sampling process needs at least one child');
    this.plan = new JobSchedule(opts.rng, tune, opts.staleness, opts.table.examples.length);
    this.mirror = opts.mirrorDir !== undefined ? new WeightMirror(opts.mirrorDir) : undefined;
    for (const v of this.mirror?.versions() ?? []) this.blobs.set(v, this.mirror!.read(v)!);
    this.running = children.length;
    for (const child of children) {
      child.on('message', (m: FromChild) => {
        if (m.type === 'ready') this.readyChildren++;
        else if (m.type === 'result') this.results.set(`${m.step}:${m.part}`, m);
        else this.fail(new Error(`the sampler process failed: ${m.message}`));
        this.wake?.();
      });
      child.on('error', (e) => this.fail(new Error(`the sampler process: ${e.message}`)));
      child.once('exit', (code, signal) => {
        this.running--;
        this.fail(new Error(`the sampler process exited (${signal ?? `code ${code}`})`));
      });
    }
    for (const child of children) this.send(child, { type: 'setup', config: opts.config, out: opts.out, tune });
  }

  async take(step: number): Promise<{ batch: Batch<E>; shards: ScoredSamples<A>[]; stats: RolloutStats }> {
    this.started ??= Date.now();
    await this.until(() => this.readyChildren === this.opts.children.length);
    const last = Math.min(step + this.opts.staleness, this.opts.tune.steps - 1);
    for (let j = step; j <= last; j++) if (!this.sent.has(j)) await this.sendJob(j, step);
    // The last S updates send no job with their weights, but a run extended past its end (tune --resume with more
    // steps) samples with them: keep them for the checkpoint.
    if (this.opts.staleness > 0 && !this.blobs.has(step))
      this.blobs.set(step, await encodeWeights(this.opts.params, step));
    const keys = Array.from({ length: this.plan.parts }, (_, p) => `${step}:${p}`);
    const waitStart = Date.now();
    await this.until(() => keys.every((k) => this.results.has(k)));
    const waitMs = Date.now() - waitStart;
    const shards = keys.map((k) => {
      const r = this.results.get(k)!;
      this.results.delete(k);
      // The importance weights assume the version the job asked for; a result sampled with another is a bug.
      if (r.version !== this.plan.version(step))
        throw new Error(`the sampler process sampled ${k} with version ${r.version}, not ${this.plan.version(step)}`);
      return r.scored as ScoredSamples<A>;
    });
    this.waited += waitMs;
    const elapsed = Math.max(1, Date.now() - this.started);
    return {
      batch: batchOf(this.opts.table, this.plan.indices(step)),
      shards,
      stats: {
        version: this.plan.version(step),
        staleness: step - this.plan.version(step),
        waitMs,
        idleShare: this.waited / elapsed,
      },
    };
  }

  /** The run's checkpointer, which also keeps beside the checkpoints the versions a resumed run needs. */
  checkpointing(inner: Checkpointer): Checkpointer {
    return {
      loadLatest: () => inner.loadLatest(),
      save: async (state) => {
        await inner.save(state);
        this.mirror?.saveFor(state.step, this.opts.staleness, this.blobs);
      },
    };
  }

  /** Ends the children (each finishes the message in hand) and waits for them, at most `ms`, then kills them. */
  async close(ms = 10_000): Promise<void> {
    const { children } = this.opts;
    if (this.running > 0) {
      const gone = new Promise<void>((resolve) => {
        for (const child of children) child.once('exit', () => this.running === 0 && resolve());
      });
      for (const child of children) if (child.connected) child.disconnect();
      const timer = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), ms);
      await gone;
      clearTimeout(timer);
    }
    rmSync(this.spool, { recursive: true, force: true });
  }

  /** Job `j` to the children, after the weights it samples with; `now`: the updates the policy has had. */
  private async sendJob(j: number, now: number): Promise<void> {
    const v = this.plan.version(j);
    if (v !== this.sentVersion) {
      let blob = this.blobs.get(v);
      if (blob === undefined && v === now) blob = await encodeWeights(this.opts.params, v);
      if (blob === undefined)
        throw new Error(`update ${j} samples with weight version ${v}, which is neither in memory nor on disk`);
      this.blobs.set(v, blob);
      for (const old of this.blobs.keys()) if (old < now - this.opts.staleness) this.blobs.delete(old);
      for (const child of this.opts.children) {
        const file = path.join(this.spool, `w${this.weightFiles++}.safetensors`); // each child deletes its own
        writeFileSync(file, blob);
        this.send(child, { type: 'weights', version: v, file });
      }
      this.sentVersion = v;
    }
    const indices = Int32Array.from(this.plan.indices(j));
    const { children } = this.opts;
    for (let p = 0; p < this.plan.parts; p++) {
      this.send(children[p % children.length], {
        type: 'job',
        step: j,
        part: p,
        version: v,
        seed: this.plan.partSeed(j, p),
        images: this.plan.partImages(indices, p),
      });
    }
    this.sent.add(j);
  }

  private send(child: ChildProcess, m: ToChild): void {
    if (this.failure) throw this.failure;
    child.send(m);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.wake?.();
  }

  /** Waits until `done()` (checked after each message from the child); throws the child's failure. */
  private async until(done: () => boolean): Promise<void> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (done()) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

/**
 * One job of a sampler that runs apart from the learner (the sampling process here, @reward-tune/distributed's
 * actors): the `train` images at `indices`, N samples each drawn with the RNG state `seed`, decoded and scored with
 * what the run's estimator needs, as the tuning loop itself samples a part.
 */
export async function sampleJob<E, P, A>(
  setup: SamplerSetup<E, P, A>,
  tune: { readonly numSamples: number; readonly estimator?: string; readonly temperature?: number },
  indices: ArrayLike<number>,
  seed: RngState,
): Promise<ScoredSamples<A>> {
  const needs = ESTIMATOR_SPECS[(tune.estimator ?? 'paper') as Estimator]?.needs;
  if (needs === undefined) throw new Error(`unknown estimator '${tune.estimator}'`);
  const batch = batchOf(setup.table, indices);
  const img = imagesTensor(batch.images);
  try {
    return await sampleAndReward(
      setup.policy,
      setup.task,
      img.tensor,
      batch.examples,
      tune.numSamples,
      needs,
      Rng.fromState(seed),
      tune.temperature,
    );
  } finally {
    img.tensor.dispose(); // made from the table's pixels for this job
  }
}

/**
 * The child's side: handles the learner's messages in order until the channel closes; `setUp` makes the task, the
 * `train` table and a policy of the learner's shape from the run's config. Returns the exit code.
 */
export async function serveSampler<E, P, A>(
  setUp: (config: unknown, out: string) => SamplerSetup<E, P, A> | Promise<SamplerSetup<E, P, A>>,
): Promise<number> {
  const send = process.send?.bind(process);
  if (send === undefined)
    throw new UsageError('the sampling process of tune.sampler.kind=process: tune starts it, not a user');
  const queue: ToChild[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  const onMessage = (m: ToChild) => {
    queue.push(m);
    wake?.();
  };
  const onDisconnect = () => {
    closed = true;
    wake?.();
  };
  const ignore = () => undefined; // Ctrl-C reaches the whole process group: the learner stops, then closes the channel
  process.on('message', onMessage);
  process.on('disconnect', onDisconnect);
  process.on('SIGINT', ignore);
  const reply = (m: FromChild) => new Promise<void>((resolve) => send(m, undefined, undefined, () => resolve()));
  let setup: SamplerSetup<E, P, A> | undefined;
  let tune: TuneConfig | undefined;
  let loaded = -1;
  try {
    for (;;) {
      while (queue.length === 0 && !closed) await new Promise<void>((resolve) => (wake = resolve));
      const m = queue.shift();
      if (m === undefined) return 0;
      if (m.type === 'setup') {
        setup = await setUp(m.config, m.out);
        tune = m.tune;
        await reply({ type: 'ready' });
        continue;
      }
      if (setup === undefined || tune === undefined) throw new Error(`'${m.type}' before 'setup'`);
      if (m.type === 'weights') {
        loaded = loadWeightVersion(setup.policy.params, readFileSync(m.file));
        unlinkSync(m.file);
        if (loaded !== m.version) throw new Error(`weights sent as version ${m.version} say they are ${loaded}`);
        continue;
      }
      if (m.version !== loaded) throw new Error(`job ${m.step}/${m.part} wants version ${m.version}, not ${loaded}`);
      const scored = await sampleJob(setup, tune, m.images, m.seed);
      await reply({ type: 'result', step: m.step, part: m.part, version: m.version, scored });
    }
  } catch (e) {
    if (!closed) await reply({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    return 1;
  } finally {
    process.off('message', onMessage);
    process.off('disconnect', onDisconnect);
    process.off('SIGINT', ignore);
  }
}
