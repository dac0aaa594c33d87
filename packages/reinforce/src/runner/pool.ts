/**
 * `task-<name> pool --from <run or checkpoint>`: the paper's best-of-N analysis (its §5 discussion: the MLE model
 * holds high-reward outputs in a large enough pool of samples, yet the most likely of them is not one). For each
 * of `--images` images of the evaluated split (`eval.split`, test by default) the model draws max(N) samples at
 * temperature 1; for each N of `--sizes` the first N of them are the pool, and over the images the command reports
 * the mean reward of
 *
 *   random       a sample drawn from the pool at random: the mean reward of its N samples
 *   most_likely  the pool's most likely sample, by sequence log-probability (the sum of the sampler's token
 *                log-probabilities, under the distribution the task decodes with; the first of equals)
 *   best         the pool's best sample by the reward (an oracle: the reward needs the ground truth)
 *
 * beside the mean reward of greedy decoding. The numbers go to `<dir>/pool/pool.json` and a chart to
 * `<dir>/pool/pool.svg`, where <dir> is where `eval` of the same checkpoint writes (evalDirOf); with --json one line
 * `{"N":[…],"random":[…],"most_likely":[…],"best":[…],"greedy":x}`. The samples are drawn a chunk of rows at a time
 * (`--rows`), so memory does not grow with max(N); the model's sampler draws a step of all of a chunk's rows at once,
 * so the samples (not their distribution) depend on `--rows` too, which pool.json records with the seed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Progress, Rng, UsageError, type SequencePolicy } from '@reward-tune/core-model';
import { batchOf, sequentialBatches, type ImageTable } from '../batches';
import { lineChartSvg } from '../report';
import { batchSize, decodeRows, imagesTensor, type Task } from '../task';
import type { RunnerConfig } from './adapter';
import { parseCommand } from './flags';
import { logLine } from './log';
import { evalDirOf, resolveCheckpoint, runConfigFrom } from './run-config';
import { loadModel, ready, setUpOnce, type AnyAdapter } from './training';

/**
 * The pool sizes (`--sizes`): powers of 4 up to 256, which take ~5 min for detection's tiny model on 200 images on 2
 * CPU cores; `--sizes 1,4,16,64,256,1024` adds 1024 (~20 min there).
 */
export const DEFAULT_POOL_SIZES: readonly number[] = [1, 4, 16, 64, 256];
/** Images of the evaluated split (`--images`). */
export const DEFAULT_POOL_IMAGES = 200;
/** Rows (images × samples) per sampling call (`--rows`). */
export const DEFAULT_POOL_ROWS = 1024;
/** The sampling RNG's seed is the config's seed plus this (the loops use +1, +2, +3). */
const POOL_SEED_OFFSET = 5;

/** The mean reward over the images of each selection rule, per pool size N; what --json prints. */
export interface PoolCurves {
  readonly N: number[];
  readonly random: number[];
  readonly most_likely: number[];
  readonly best: number[];
  readonly greedy: number;
}

/** Every image's max(N) samples: rewards and sequence log-probabilities, [I, Nmax] row-major. */
export interface PoolSamples {
  readonly images: number;
  readonly perImage: number;
  readonly rewards: Float64Array;
  readonly logProbs: Float64Array;
}

/** `--sizes 1,4,16`: ascending positive integers. */
export function parsePoolSizes(text: string): number[] {
  const sizes = text.split(',').map((s) => s.trim());
  const values = sizes.map(Number);
  if (sizes.some((s) => !/^\d+$/.test(s)) || values.some((v) => v < 1 || !Number.isSafeInteger(v)))
    throw new UsageError(`--sizes ${text}: expected positive integers separated by commas, e.g. 1,4,16,64`);
  if (values.some((v, i) => i > 0 && v <= values[i - 1]))
    throw new UsageError(`--sizes ${text}: expected increasing sizes`);
  return values;
}

/**
 * The curves from the samples: for each N, per image the rewards of its first N samples give the random pick (their
 * mean), the most likely (the reward of the first sample of the highest log-probability) and the best (their
 * maximum); each curve is the mean over the images. `greedy` is passed through.
 */
export function poolCurves(samples: PoolSamples, sizes: readonly number[], greedy: number): PoolCurves {
  const { images, perImage, rewards, logProbs } = samples;
  if (sizes.length === 0 || sizes[sizes.length - 1] > perImage)
    throw new RangeError(
      `pool sizes ${sizes.join(',')} need up to ${sizes.at(-1)} samples per image, have ${perImage}`,
    );
  if (rewards.length !== images * perImage || logProbs.length !== images * perImage)
    throw new RangeError(`expected ${images}×${perImage} rewards and log-probabilities`);
  const random = new Array<number>(sizes.length).fill(0);
  const mostLikely = new Array<number>(sizes.length).fill(0);
  const best = new Array<number>(sizes.length).fill(0);
  for (let i = 0; i < images; i++) {
    const at = i * perImage;
    let sum = 0;
    let max = -Infinity;
    let likeliest = at;
    let n = 0;
    sizes.forEach((size, k) => {
      for (; n < size; n++) {
        const r = rewards[at + n];
        sum += r;
        if (r > max) max = r;
        if (logProbs[at + n] > logProbs[likeliest]) likeliest = at + n;
      }
      random[k] += sum / size;
      mostLikely[k] += rewards[likeliest];
      best[k] += max;
    });
  }
  const mean = (xs: number[]) => xs.map((x) => (images > 0 ? x / images : NaN));
  return { N: [...sizes], random: mean(random), most_likely: mean(mostLikely), best: mean(best), greedy };
}

/**
 * `perImage` samples of every image of `table` at temperature 1 (no truncation), decoded and rewarded by the task:
 * each sampling call draws at most `rows` rows (a few images × up to `rows` samples each), so an image's samples may
 * come from several calls. `progress` gets the samples done so far.
 */
export async function samplePool<E, P, A>(opts: {
  readonly policy: SequencePolicy;
  readonly task: Task<E, P, A>;
  readonly table: ImageTable<E>;
  readonly perImage: number;
  readonly rows: number;
  readonly rng: Rng;
  readonly progress?: (done: number) => void;
}): Promise<PoolSamples> {
  const { policy, task, table, perImage, rng } = opts;
  const images = table.examples.length;
  const perCall = Math.min(perImage, opts.rows);
  const imagesPerCall = Math.max(1, Math.floor(opts.rows / perCall));
  const rewards = new Float64Array(images * perImage);
  const logProbs = new Float64Array(images * perImage);
  let done = 0;
  for (let first = 0; first < images; first += imagesPerCall) {
    const indices = Array.from({ length: Math.min(imagesPerCall, images - first) }, (_, i) => first + i);
    const batch = batchOf(table, indices);
    const b = batchSize(batch);
    const img = imagesTensor(batch.images);
    try {
      for (let from = 0; from < perImage; from += perCall) {
        const n = Math.min(perCall, perImage - from);
        const s = await policy.sample(img.tensor, { numSamples: n, temperature: 1, topK: 0, topP: 0, rng });
        const l = s.length;
        const decoded = await decodeRows(task, s.tokens, l, img.tensor, batch.examples, n);
        for (let i = 0; i < b; i++) {
          const r = task.reward(decoded.slice(i * n, (i + 1) * n), batch.examples[i]).rewards;
          if (r.length !== n) throw new RangeError(`task.reward returned ${r.length} rewards for ${n} samples`);
          const at = (first + i) * perImage + from;
          rewards.set(r, at);
          for (let j = 0; j < n; j++) {
            let lp = 0;
            const row = (i * n + j) * l;
            for (let t = 0; t < l; t++) lp += s.logProbs[row + t];
            logProbs[at + j] = lp;
          }
        }
        done += b * n;
        opts.progress?.(done);
      }
    } finally {
      if (img.owned) img.tensor.dispose();
    }
  }
  return { images, perImage, rewards, logProbs };
}

/** The mean reward of greedy decoding over `table`, `batch` images at a time. */
export async function greedyReward<E, P, A>(
  policy: SequencePolicy,
  task: Task<E, P, A>,
  table: ImageTable<E>,
  batch: number,
): Promise<number> {
  let sum = 0;
  for (const b of sequentialBatches(table, batch)) {
    const img = imagesTensor(b.images);
    try {
      const s = await policy.sample(img.tensor, { numSamples: 1, greedy: true });
      const preds = await decodeRows(task, s.tokens, s.length, img.tensor, b.examples, 1);
      preds.forEach((p, i) => (sum += task.reward([p], b.examples[i]).rewards[0]));
    } finally {
      if (img.owned) img.tensor.dispose();
    }
  }
  return table.examples.length > 0 ? sum / table.examples.length : NaN;
}

/** The chart of pool.svg: the three curves against log₂ N, greedy as a level line. */
export function poolChartSvg(curves: PoolCurves, title: string): string {
  const x = curves.N.map(Math.log2);
  const line = (ys: number[]) => ys.map((y, i) => [x[i], y] as const);
  const ends = [x[0], x[x.length - 1]];
  return lineChartSvg(title, 'log₂ N (samples per image: 0 = 1, 10 = 1024)', 'mean reward', [
    { name: 'best of N (oracle)', points: line(curves.best), color: '#2ca02c' },
    { name: 'most likely of N', points: line(curves.most_likely), color: '#d62728' },
    { name: 'random of N', points: line(curves.random), color: '#1f77b4' },
    { name: 'greedy', points: ends.map((e) => [e, curves.greedy] as const), color: '#7f7f7f' },
  ]);
}

function positiveInteger(flag: string, raw: string | boolean | string[] | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const text = String(raw);
  if (!/^\d+$/.test(text) || Number(text) < 1)
    throw new UsageError(`--${flag} must be a positive integer, got '${text}'`);
  return Number(text);
}

export async function poolCommand<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  args: readonly string[],
): Promise<number> {
  const opts = parseCommand(args, {
    extra: {
      sizes: { type: 'string', description: `pool sizes N, increasing (default ${DEFAULT_POOL_SIZES.join(',')})` },
      images: {
        type: 'string',
        description: `images of the evaluated split (eval.split, default test; default ${DEFAULT_POOL_IMAGES})`,
      },
      rows: { type: 'string', description: `rows sampled per call (memory; default ${DEFAULT_POOL_ROWS})` },
    },
  });
  if (!opts) return 0;
  const sizes = opts.extra.sizes === undefined ? [...DEFAULT_POOL_SIZES] : parsePoolSizes(String(opts.extra.sizes));
  const wanted = positiveInteger('images', opts.extra.images, DEFAULT_POOL_IMAGES);
  const rows = positiveInteger('rows', opts.extra.rows, DEFAULT_POOL_ROWS);
  if (opts.from === undefined) throw new UsageError('pool needs --from <run directory or checkpoint>');
  const t0 = Date.now();
  const from = resolveCheckpoint(opts.from);
  const cfg = runConfigFrom(adapter, from, opts);
  await ready(adapter, cfg, opts);
  const setup = setUpOnce(adapter, cfg, opts.out);
  const split = cfg.eval.split;
  const table = setup.images(split, wanted);
  const count = table.examples.length;
  if (count < wanted) logLine(`${adapter.tool} pool: the ${split} split has ${count} images (asked for ${wanted})`);
  const { model, file } = loadModel(adapter, cfg, opts.out, from);
  const policy = setup.decoding?.(model) ?? model;
  const perImage = sizes[sizes.length - 1];
  logLine(`${adapter.tool} pool: ${file}, ${count} ${split} images × ${perImage} samples`);
  const bar = new Progress({ label: 'pool', total: count * perImage, every: Math.max(1, Math.min(rows, perImage)) });
  let curves: PoolCurves;
  try {
    const greedy = await greedyReward(policy, setup.task, table, cfg.eval.batchSize);
    const samples = await samplePool({
      policy,
      task: setup.task,
      table,
      perImage,
      rows,
      rng: Rng.fromSeed(cfg.seed + POOL_SEED_OFFSET),
      progress: (done) => bar.update(done),
    });
    curves = poolCurves(samples, sizes, greedy);
  } finally {
    bar.finish();
    model.dispose();
  }
  const wall = (Date.now() - t0) / 1000;
  const dir = path.join(evalDirOf(file, opts.out, adapter.tool, split), 'pool');
  mkdirSync(dir, { recursive: true });
  const record = {
    checkpoint: path.resolve(file),
    split,
    images: count,
    rows,
    seed: cfg.seed,
    wall_s: wall,
    ...curves,
  };
  writeFileSync(path.join(dir, 'pool.json'), `${JSON.stringify(record, null, 2)}\n`);
  const title = `${adapter.tool}: reward of one of N samples (${count} ${split} images)`;
  writeFileSync(path.join(dir, 'pool.svg'), poolChartSvg(curves, title));
  const f = (xs: number[]) => xs.map((v) => v.toFixed(3)).join(' ');
  logLine(
    `${adapter.tool} pool (N ${curves.N.join(' ')}): random ${f(curves.random)}; most likely ${f(curves.most_likely)}; ` +
      `best ${f(curves.best)}; greedy ${curves.greedy.toFixed(3)}`,
  );
  logLine(`wrote ${dir} (${wall.toFixed(0)} s)`);
  if (opts.json) process.stdout.write(`${JSON.stringify(curves)}\n`);
  return 0;
}
