/**
 * `rewards-metrics pq --gt-json gt.json --gt-dir gt/ --pred-json pred.json --pred-dir pred/ [--workers N] [--json]`:
 * Panoptic Quality of COCO-panoptic-format predictions, as panopticapi's pq_compute reports it.
 *
 * GT and prediction annotations are paired by image_id; each `annotations[].file_name` is a PNG in the matching
 * folder. Everything panopticapi would trip on (or silently misread) is an input error naming the file: a GT image
 * without prediction, a prediction for an image the GT does not have, a PNG whose size differs from the GT
 * `images` entry, a segment id in a PNG missing from segments_info or the reverse, a GT `area` that disagrees with
 * its PNG (panopticapi trusts the JSON area, this tool counts pixels; the two must agree for the same numbers).
 * The JSON files are checked first, then the image pairs in GT order; where several are wrong, the first is reported.
 *
 * Speed: the JSON is checked by hand (loading zod would cost more than checking), the PNGs are decoded by
 * panoptic-png.ts, and `--workers N` (default 2, at most the machine's cores) image pairs are scored at once on
 * worker threads, as panopticapi splits them over processes. The threads take the next pair from a shared counter
 * and the main thread sums the per-image counts in image order, so the numbers do not depend on N.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { InputError, orThrow, parseFlags, readJson, required } from './io';
import { decodePanopticPng } from './panoptic-png';
import {
  panopticImageStatsAndAreas,
  PqAccumulator,
  type PanopticSegment,
  type PqCounts,
  type PqResult,
} from '../panoptic-quality';

type ImageId = number | string;
interface GtSegment {
  readonly id: number;
  readonly category_id: number;
  readonly iscrowd: number;
  readonly area?: number;
}
interface Category {
  readonly id: number;
  readonly name?: string;
  readonly isthing: number | boolean;
}
interface GtJson {
  readonly images: readonly { readonly id: ImageId; readonly width: number; readonly height: number }[];
  readonly annotations: readonly {
    readonly image_id: ImageId;
    readonly file_name: string;
    readonly segments_info: readonly GtSegment[];
  }[];
  readonly categories: readonly Category[];
}
interface PredJson {
  readonly annotations: readonly {
    readonly image_id: ImageId;
    readonly file_name: string;
    readonly segments_info: readonly PanopticSegment[];
  }[];
}

/** Shape checks by hand: the first problem as `field "<path>": <what was expected>`. */
class Shape {
  constructor(readonly file: string) {}

  fail(where: string, what: string): never {
    throw new InputError(`${this.file}: field "${where}": ${what}`);
  }

  object(v: unknown, where: string): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(where, 'expected an object');
    return v as Record<string, unknown>;
  }

  array(v: unknown, where: string): unknown[] {
    if (!Array.isArray(v)) this.fail(where, 'expected an array');
    return v;
  }

  int(v: unknown, where: string, min = -Infinity): number {
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(where, 'expected an integer');
    if (v < min) this.fail(where, `expected an integer ≥ ${min}`);
    return v;
  }

  imageId(v: unknown, where: string): ImageId {
    if (typeof v === 'string') return v;
    return this.int(v, where);
  }

  string(v: unknown, where: string): string {
    if (typeof v !== 'string') this.fail(where, 'expected a string');
    return v;
  }
}

function checkGt(value: unknown, file: string): GtJson {
  const s: Shape = new Shape(file);
  const top = s.object(value, '');
  const images = s.array(top.images, 'images').map((v, i) => {
    const o = s.object(v, `images[${i}]`);
    return {
      id: s.imageId(o.id, `images[${i}].id`),
      width: s.int(o.width, `images[${i}].width`, 1),
      height: s.int(o.height, `images[${i}].height`, 1),
    };
  });
  const annotations = s.array(top.annotations, 'annotations').map((v, i) => {
    const w = `annotations[${i}]`;
    const o = s.object(v, w);
    const image_id = s.imageId(o.image_id, `${w}.image_id`);
    const file_name = s.string(o.file_name, `${w}.file_name`);
    const segments_info = s.array(o.segments_info, `${w}.segments_info`).map((x, k): GtSegment => {
      const ws = `${w}.segments_info[${k}]`;
      const g = s.object(x, ws);
      const seg = {
        id: s.int(g.id, `${ws}.id`, 0),
        category_id: s.int(g.category_id, `${ws}.category_id`),
        iscrowd: s.int(g.iscrowd, `${ws}.iscrowd`),
      };
      const area = g.area;
      if (area === undefined) return seg;
      if (typeof area !== 'number') s.fail(`${ws}.area`, 'expected a number');
      return { ...seg, area };
    });
    return { image_id, file_name, segments_info };
  });
  const categories = s.array(top.categories, 'categories').map((v, i): Category => {
    const o = s.object(v, `categories[${i}]`);
    const id = s.int(o.id, `categories[${i}].id`);
    if (o.name !== undefined && typeof o.name !== 'string') s.fail(`categories[${i}].name`, 'expected a string');
    const isthing = typeof o.isthing === 'boolean' ? o.isthing : s.int(o.isthing, `categories[${i}].isthing`);
    return o.name === undefined ? { id, isthing } : { id, name: o.name as string, isthing };
  });
  return { images, annotations, categories };
}

function checkPred(value: unknown, file: string): PredJson {
  const s: Shape = new Shape(file);
  const top = s.object(value, '');
  const annotations = s.array(top.annotations, 'annotations').map((v, i) => {
    const w = `annotations[${i}]`;
    const o = s.object(v, w);
    return {
      image_id: s.imageId(o.image_id, `${w}.image_id`),
      file_name: s.string(o.file_name, `${w}.file_name`),
      segments_info: s.array(o.segments_info, `${w}.segments_info`).map((x, k) => {
        const ws = `${w}.segments_info[${k}]`;
        const g = s.object(x, ws);
        return { id: s.int(g.id, `${ws}.id`, 0), category_id: s.int(g.category_id, `${ws}.category_id`) };
      }),
    };
  });
  return { annotations };
}

// 1 and "1" are different image ids, as in panopticapi's dicts.
const key = (id: number | string): string => JSON.stringify(id);

export interface PqFiles {
  readonly gtJson: string;
  readonly gtDir: string;
  readonly predJson: string;
  readonly predDir: string;
}

/** One image pair to score: everything a worker thread needs (plain data, so it crosses threads as it is). */
export interface PqJob {
  /** `annotations[i]: image_id <id>` of the GT JSON, for messages. */
  readonly where: string;
  readonly id: string;
  readonly width: number;
  readonly height: number;
  readonly gtFile: string;
  readonly predFile: string;
  readonly gtSegments: readonly GtSegment[];
  readonly predSegments: readonly PanopticSegment[];
}

/** Reads and checks both JSON files and pairs the annotations; every problem is an InputError of one line. */
export function pqJobs(files: PqFiles): { gt: GtJson; jobs: PqJob[] } {
  const gt = checkGt(orThrow(readJson(files.gtJson)), files.gtJson);
  const pred = checkPred(orThrow(readJson(files.predJson)), files.predJson);

  const sizes = new Map<string, { width: number; height: number }>();
  gt.images.forEach((im, i) => {
    if (sizes.has(key(im.id)))
      throw new InputError(`${files.gtJson}: images[${i}]: image id ${key(im.id)} listed twice`);
    sizes.set(key(im.id), im);
  });
  const preds = new Map<string, PredJson['annotations'][number]>();
  const gtIds = new Set(gt.annotations.map((a) => key(a.image_id)));
  pred.annotations.forEach((a, i) => {
    const where = `${files.predJson}: annotations[${i}]: image_id ${key(a.image_id)}`;
    if (!gtIds.has(key(a.image_id))) throw new InputError(`${where} is not an image of the ground truth`);
    if (preds.has(key(a.image_id))) throw new InputError(`${where} has a second prediction`);
    preds.set(key(a.image_id), a);
  });

  const seen = new Set<string>();
  const jobs = gt.annotations.map((ann, i): PqJob => {
    const id = key(ann.image_id);
    const where = `annotations[${i}]: image_id ${id}`;
    if (seen.has(id)) throw new InputError(`${files.gtJson}: ${where} is annotated twice`);
    seen.add(id);
    const size = sizes.get(id);
    if (!size) throw new InputError(`${files.gtJson}: ${where} has no entry in "images"`);
    const p = preds.get(id);
    if (!p) throw new InputError(`${files.predJson}: no prediction for image_id ${id}`);
    return {
      where,
      id,
      width: size.width,
      height: size.height,
      gtFile: path.join(files.gtDir, ann.file_name),
      predFile: path.join(files.predDir, p.file_name),
      gtSegments: ann.segments_info,
      predSegments: p.segments_info,
    };
  });
  return { gt, jobs };
}

/** Decoded id maps, reused from one image pair to the next of the same size (each thread scores one pair at a time). */
const scratch: Record<'gt' | 'pred', Uint32Array> = { gt: new Uint32Array(0), pred: new Uint32Array(0) };

function readIds(file: string, job: PqJob, gtJson: string, side: 'gt' | 'pred'): Uint32Array {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`${file}: cannot read file${code ? ` (${code})` : ''}`);
  }
  const png = orThrow(decodePanopticPng(bytes, file, scratch[side]));
  scratch[side] = png.ids;
  if (png.width !== job.width || png.height !== job.height) {
    throw new InputError(
      `${file}: size ${png.width}×${png.height} differs from ${job.width}×${job.height} of image_id ${job.id} in ${gtJson}`,
    );
  }
  return png.ids;
}

/** The per-category counts of one image pair; an InputError of one line for any problem. */
export function jobStats(
  job: PqJob,
  categories: readonly Category[],
  files: Pick<PqFiles, 'gtJson' | 'predJson'>,
): Map<number, PqCounts> {
  const gtIds = readIds(job.gtFile, job, files.gtJson, 'gt');
  const predIds = readIds(job.predFile, job, files.gtJson, 'pred');
  const { width, height } = job;
  const r = panopticImageStatsAndAreas(
    { width, height, ids: gtIds, segments: job.gtSegments },
    { width, height, ids: predIds, segments: job.predSegments },
    categories,
  );
  if (E.isLeft(r)) {
    const [json, png] = r.left.side === 'gt' ? [files.gtJson, job.gtFile] : [files.predJson, job.predFile];
    throw new InputError(`${json}: image_id ${job.id} (${png}): ${r.left.message}`);
  }
  job.gtSegments.forEach((s, k) => {
    const px = r.right.gtAreas[k];
    if (s.area !== undefined && s.area !== px) {
      throw new InputError(
        `${files.gtJson}: ${job.where}: segment id ${s.id} has area ${s.area} but ${px} pixels in ${job.gtFile}`,
      );
    }
  });
  return r.right.stats;
}

/** Per-image counts as [category, iou, tp, fp, fn]·m, to cross threads. */
const flatten = (m: ReadonlyMap<number, PqCounts>): number[] =>
  [...m].flatMap(([cat, s]) => [cat, s.iou, s.tp, s.fp, s.fn]);
const unflatten = (f: readonly number[]): Map<number, PqCounts> => {
  const m = new Map<number, PqCounts>();
  for (let j = 0; j < f.length; j += 5) m.set(f[j], { iou: f[j + 1], tp: f[j + 2], fp: f[j + 3], fn: f[j + 4] });
  return m;
};

/** What one thread did: the pairs it scored, and the first problem it met (it then stops). */
export interface ThreadResult {
  readonly done: { index: number; stats: number[] }[];
  readonly error?: { index: number; message: string };
}

/**
 * Scores pairs taken from the shared counter `claim[0]` until none is left or any thread met a problem
 * (`claim[1]` = 1). Every pair before a failing one was claimed earlier and is scored, so the smallest failing index
 * over all threads is the first problem in GT order.
 */
export function scoreClaimed(
  jobs: readonly PqJob[],
  categories: readonly Category[],
  files: Pick<PqFiles, 'gtJson' | 'predJson'>,
  claim: Int32Array,
): ThreadResult {
  const done: ThreadResult['done'] = [];
  while (Atomics.load(claim, 1) === 0) {
    const index = Atomics.add(claim, 0, 1);
    if (index >= jobs.length) break;
    try {
      done.push({ index, stats: flatten(jobStats(jobs[index], categories, files)) });
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      Atomics.store(claim, 1, 1);
      return { done, error: { index, message: err.message } };
    }
  }
  return { done };
}

/** workerData of a pq worker thread (see cli.ts). */
export interface PqWorkerData {
  readonly rewardsMetricsWorker: 'pq';
  readonly jobs: readonly PqJob[];
  readonly categories: readonly Category[];
  readonly files: Pick<PqFiles, 'gtJson' | 'predJson'>;
  readonly claim: SharedArrayBuffer;
}

/** The body of a pq worker thread: score claimed pairs, post the ThreadResult. */
export function workerMain(data: PqWorkerData, post: (r: ThreadResult) => void): void {
  post(scoreClaimed(data.jobs, data.categories, data.files, new Int32Array(data.claim)));
}

/** Sums the threads' per-image counts in GT order; throws the first problem in GT order. */
function combine(jobs: readonly PqJob[], categories: readonly Category[], results: ThreadResult[]): PqResult {
  const errors = results.flatMap((r) => (r.error ? [r.error] : []));
  if (errors.length > 0) {
    const first = errors.reduce((a, b) => (b.index < a.index ? b : a));
    throw new InputError(first.message);
  }
  const byIndex: number[][] = new Array<number[]>(jobs.length);
  for (const r of results) for (const d of r.done) byIndex[d.index] = d.stats;
  const acc = new PqAccumulator(categories);
  for (let i = 0; i < jobs.length; i++) acc.addStats(unflatten(byIndex[i]));
  return acc.result();
}

/** Scores every pair on this thread. */
export function pqFromFiles(files: PqFiles): { result: PqResult; gt: GtJson } {
  const { gt, jobs } = pqJobs(files);
  const claim = new Int32Array(new SharedArrayBuffer(8));
  return { result: combine(jobs, gt.categories, [scoreClaimed(jobs, gt.categories, files, claim)]), gt };
}

/**
 * Scores the pairs on this thread and `threads − 1` worker threads running `script` (the bundled CLI, whose entry
 * starts `workerMain` in a worker).
 */
export async function pqFromFilesThreaded(
  files: PqFiles,
  threads: number,
  script: string,
): Promise<{ result: PqResult; gt: GtJson }> {
  const { gt, jobs } = pqJobs(files);
  const claimBuffer = new SharedArrayBuffer(8);
  const claim = new Int32Array(claimBuffer);
  const { Worker } = await import('node:worker_threads');
  const data: PqWorkerData = {
    rewardsMetricsWorker: 'pq',
    jobs,
    categories: gt.categories,
    files: { gtJson: files.gtJson, predJson: files.predJson },
    claim: claimBuffer,
  };
  const workers = Array.from({ length: Math.max(0, Math.min(threads, jobs.length) - 1) }, () => {
    const w = new Worker(script, { workerData: data });
    return new Promise<ThreadResult>((resolve, reject) => {
      w.once('message', (r: ThreadResult) => resolve(r));
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`pq worker thread exited with code ${code} before answering`)));
    });
  });
  let mine: ThreadResult;
  try {
    mine = scoreClaimed(jobs, gt.categories, files, claim);
  } catch (err) {
    Atomics.store(claim, 1, 1);
    throw err;
  }
  return { result: combine(jobs, gt.categories, [mine, ...(await Promise.all(workers))]), gt };
}

/**
 * One decimal as Python's `{:.1f}` writes it: exact ties (x.25, x.75 are the only ones a double can hold) go to the
 * even digit, where toFixed would round x.25 up.
 */
export function pyFixed1(x: number): string {
  if (Number.isInteger(4 * x) && ((4 * x) % 4 === 1 || (4 * x) % 4 === -3)) return (x - 0.05).toFixed(1);
  return x.toFixed(1);
}

/** panopticapi's summary table (percentages), then one line per category. */
export function formatTable(result: PqResult, categories: readonly Category[]): string {
  const pct = (x: number): string => pyFixed1(100 * x).padStart(5);
  const lines = [
    `${''.padEnd(10)}| ${'PQ'.padStart(5)}  ${'SQ'.padStart(5)}  ${'RQ'.padStart(5)} ${'N'.padStart(5)}`,
    '-'.repeat(38),
  ];
  for (const name of ['All', 'Things', 'Stuff'] as const) {
    const r = result[name];
    lines.push(`${name.padEnd(10)}| ${pct(r.pq)}  ${pct(r.sq)}  ${pct(r.rq)} ${String(r.n).padStart(5)}`);
  }
  lines.push(
    '',
    `${'category'.padEnd(28)}| ${'PQ'.padStart(5)}  ${'SQ'.padStart(5)}  ${'RQ'.padStart(5)}`,
    '-'.repeat(49),
  );
  for (const c of categories) {
    const r = result.per_class[String(c.id)];
    const label = `${c.id} ${c.name ?? ''} (${c.isthing === 1 || c.isthing === true ? 'thing' : 'stuff'})`;
    lines.push(`${label.slice(0, 28).padEnd(28)}| ${pct(r.pq)}  ${pct(r.sq)}  ${pct(r.rq)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Threads to use: --workers N, else 2 where the machine has two cores or more. */
function parseWorkers(v: string | boolean | undefined): number {
  if (v === undefined)
    return Math.min(2, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n < 1)
    throw new InputError(`--workers: expected a positive integer, got '${String(v)}'`);
  return n;
}

function print(result: PqResult, gt: GtJson, json: boolean): number {
  if (json) {
    const { All, Things, Stuff, per_class } = result;
    process.stdout.write(`${JSON.stringify({ All, Things, Stuff, per_class })}\n`);
  } else {
    process.stdout.write(formatTable(result, gt.categories));
  }
  return 0;
}

/**
 * Runs the command. Worker threads need the bundled CLI (dist/cli.cjs) to run in; from the TypeScript sources (the
 * unit tests of this module) every pair is scored on the calling thread and the answer is synchronous.
 */
export function run(args: readonly string[]): number | Promise<number> {
  const { values } = parseFlags(args, {
    'gt-json': { type: 'string' },
    'gt-dir': { type: 'string' },
    'pred-json': { type: 'string' },
    'pred-dir': { type: 'string' },
    workers: { type: 'string' },
    json: { type: 'boolean' },
  });
  const files = {
    gtJson: required(values, 'gt-json'),
    gtDir: required(values, 'gt-dir'),
    predJson: required(values, 'pred-json'),
    predDir: required(values, 'pred-dir'),
  };
  const threads = parseWorkers(values.workers);
  const json = values.json === true;
  if (threads > 1 && __filename.endsWith('.cjs')) {
    return pqFromFilesThreaded(files, threads, __filename).then(({ result, gt }) => print(result, gt, json));
  }
  const { result, gt } = pqFromFiles(files);
  return print(result, gt, json);
}
