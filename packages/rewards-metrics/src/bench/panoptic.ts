/**
 * Panoptic Quality benchmark: a deterministic COCO-panoptic-format dataset (GT and prediction PNGs + JSON, 640×480
 * by default), `rewards-metrics pq` timed on it as a child process (wall seconds, peak RSS), and — where `python3`
 * can import panopticapi — panopticapi's `pq_compute` with 2 worker processes on the same files, whole `python3` run
 * and `pq_compute` alone, with the largest difference over PQ/SQ/RQ × All/Things/Stuff. Run by `rewards-metrics
 * bench` (src/cli/bench.ts).
 *
 * A scene: 2–5 stuff bands with wavy borders, then 3–24 thing ellipses of log-uniform size drawn over them (later
 * ones occlude earlier ones), each inside a 1-pixel VOID ring, ~3% of them crowd, sometimes a VOID blob. The
 * prediction moves and resizes the things, misses ~12% of them, relabels ~6%, adds up to 3 spurious ones, shifts
 * the stuff borders, and leaves a few VOID pixels. Segment ids are random 24-bit colours, as COCO's converters
 * make them; segments that end up with no pixel are left out of segments_info (panopticapi refuses them).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { mulberry32 } from './caption';
import { timeCli } from './harness';

export interface PanopticCategoryJson {
  readonly id: number;
  readonly name: string;
  readonly supercategory: string;
  readonly isthing: 0 | 1;
}

/** 80 thing and 53 stuff categories with COCO-like gaps in the ids (COCO panoptic has 80 + 53). */
export function benchPanopticCategories(): PanopticCategoryJson[] {
  const things = Array.from({ length: 80 }, (_, k) => ({
    id: 1 + k + Math.floor(k / 8),
    name: `thing${k}`,
    supercategory: `group${Math.floor(k / 8)}`,
    isthing: 1 as const,
  }));
  const stuff = Array.from({ length: 53 }, (_, k) => ({
    id: 92 + k * 2,
    name: `stuff${k}`,
    supercategory: 'stuff',
    isthing: 0 as const,
  }));
  return [...things, ...stuff];
}

interface Segment {
  id: number;
  category_id: number;
  iscrowd: number;
  area: number;
}

export interface SynthPanopticImage {
  readonly ids: Uint32Array;
  readonly segments: { id: number; category_id: number; iscrowd: number; area: number }[];
}

interface Thing {
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  cat: number;
  crowd: number;
}
interface Band {
  base: number;
  amp: number;
  period: number;
  phase: number;
  cat: number;
}

/** Fills the ellipse (cx, cy, rx, ry) with `id`. */
function ellipse(ids: Uint32Array, W: number, H: number, cx: number, cy: number, rx: number, ry: number, id: number) {
  const y0 = Math.max(0, Math.ceil(cy - ry));
  const y1 = Math.min(H - 1, Math.floor(cy + ry));
  for (let y = y0; y <= y1; y++) {
    const t = (y - cy) / ry;
    const half = rx * Math.sqrt(Math.max(0, 1 - t * t));
    const x0 = Math.max(0, Math.ceil(cx - half));
    const x1 = Math.min(W - 1, Math.floor(cx + half));
    if (x1 >= x0) ids.fill(id, y * W + x0, y * W + x1 + 1);
  }
}

/** Paints bands (top to bottom), then things (each in its VOID ring), then VOID blobs; counts areas; drops empties. */
function render(
  W: number,
  H: number,
  bands: readonly Band[],
  things: readonly Thing[],
  voids: readonly [number, number, number, number][],
  ring: boolean,
  newId: () => number,
): SynthPanopticImage {
  const ids = new Uint32Array(W * H);
  const segs: Segment[] = [];
  const bandIds = bands.map((b) => {
    const id = newId();
    segs.push({ id, category_id: b.cat, iscrowd: 0, area: 0 });
    return id;
  });
  for (let x = 0; x < W; x++) {
    let top = 0;
    for (let b = 0; b < bands.length; b++) {
      const { base, amp, period, phase } = bands[b];
      const bottom =
        b === bands.length - 1 ? H : Math.max(top, Math.min(H, Math.round(base + amp * Math.sin(x / period + phase))));
      for (let y = top; y < bottom; y++) ids[y * W + x] = bandIds[b];
      top = bottom;
    }
  }
  for (const t of things) {
    const id = newId();
    segs.push({ id, category_id: t.cat, iscrowd: t.crowd, area: 0 });
    if (ring) ellipse(ids, W, H, t.cx, t.cy, t.rx + 1.5, t.ry + 1.5, 0);
    ellipse(ids, W, H, t.cx, t.cy, t.rx, t.ry, id);
  }
  for (const [cx, cy, rx, ry] of voids) ellipse(ids, W, H, cx, cy, rx, ry, 0);
  const index = new Map(segs.map((s, k) => [s.id, k]));
  let last = -1;
  let k = -1;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] !== last) {
      last = ids[i];
      k = last === 0 ? -1 : (index.get(last) as number);
    }
    if (k >= 0) segs[k].area++;
  }
  return { ids, segments: segs.filter((s) => s.area > 0) };
}

/** One deterministic GT/prediction pair (see the module comment). */
export function synthPanopticPair(
  seed: number,
  W = 640,
  H = 480,
  categories: readonly PanopticCategoryJson[] = benchPanopticCategories(),
): { gt: SynthPanopticImage; pred: SynthPanopticImage } {
  const rand = mulberry32(seed);
  const thingCats = categories.filter((c) => c.isthing === 1).map((c) => c.id);
  const stuffCats = categories.filter((c) => c.isthing === 0).map((c) => c.id);
  const pick = (xs: readonly number[]): number => xs[Math.floor(rand() * xs.length)];
  const used = new Set<number>();
  const newId = (): number => {
    for (;;) {
      const id = 1 + Math.floor(rand() * 0xfffffe);
      if (!used.has(id)) {
        used.add(id);
        return id;
      }
    }
  };

  const nBands = 2 + Math.floor(rand() * 4);
  const bands: Band[] = [];
  for (let b = 0; b < nBands; b++) {
    bands.push({
      base: ((b + 1) * H) / nBands + (rand() - 0.5) * (H / nBands / 2),
      amp: 4 + rand() * 20,
      period: 20 + rand() * 80,
      phase: rand() * 2 * Math.PI,
      cat: pick(stuffCats),
    });
  }
  const nThings = 3 + Math.floor(rand() * 22);
  const things: Thing[] = [];
  for (let t = 0; t < nThings; t++) {
    const r = Math.exp(Math.log(6) + rand() * (Math.log(140) - Math.log(6)));
    const ar = Math.exp(rand() - 0.5);
    things.push({
      cx: rand() * W,
      cy: rand() * H,
      rx: r * Math.sqrt(ar),
      ry: r / Math.sqrt(ar),
      cat: pick(thingCats),
      crowd: rand() < 0.03 ? 1 : 0,
    });
  }
  const gtVoids: [number, number, number, number][] =
    rand() < 0.3 ? [[rand() * W, rand() * H, 10 + rand() * 60, 10 + rand() * 60]] : [];

  const predBands = bands.map((b) => ({
    ...b,
    base: b.base + (rand() - 0.5) * 16,
    amp: b.amp * (0.8 + 0.4 * rand()),
    phase: b.phase + (rand() - 0.5) * 0.4,
    cat: rand() < 0.1 ? pick(stuffCats) : b.cat,
  }));
  const predThings: Thing[] = [];
  for (const t of things) {
    if (rand() < 0.12) continue;
    const r = Math.min(t.rx, t.ry);
    predThings.push({
      cx: t.cx + (rand() - 0.5) * 0.3 * r,
      cy: t.cy + (rand() - 0.5) * 0.3 * r,
      rx: t.rx * (0.85 + 0.3 * rand()),
      ry: t.ry * (0.85 + 0.3 * rand()),
      cat: rand() < 0.06 ? pick(thingCats) : t.cat,
      crowd: 0,
    });
  }
  const extra = Math.floor(rand() * 4);
  for (let e = 0; e < extra; e++) {
    const r = 6 + rand() * 40;
    predThings.push({ cx: rand() * W, cy: rand() * H, rx: r, ry: r, cat: pick(thingCats), crowd: 0 });
  }
  const predVoids: [number, number, number, number][] =
    rand() < 0.2 ? [[rand() * W, rand() * H, 2 + rand() * 8, 2 + rand() * 8]] : [];

  return {
    gt: render(W, H, bands, things, gtVoids, true, newId),
    pred: render(W, H, predBands, predThings, predVoids, false, newId),
  };
}

/** A panoptic PNG (id = R + 256·G + 256²·B), RGB, zlib level 6 (Pillow's default) and adaptive filters. */
export function encodePanopticPng(ids: Uint32Array, W: number, H: number): Buffer {
  const png = new PNG({ width: W, height: H });
  const d = png.data;
  for (let i = 0; i < W * H; i++) {
    const id = ids[i];
    d[4 * i] = id & 255;
    d[4 * i + 1] = (id >>> 8) & 255;
    d[4 * i + 2] = (id >>> 16) & 255;
    d[4 * i + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: 2, deflateLevel: 6 });
}

export interface PanopticBenchFiles {
  readonly gtJson: string;
  readonly gtDir: string;
  readonly predJson: string;
  readonly predDir: string;
}

/** Writes `images` pairs under `dir`: gt.json + gt/*.png, pred.json + pred/*.png. */
export function writePanopticBench(dir: string, images: number, seed = 1, W = 640, H = 480): PanopticBenchFiles {
  const files = {
    gtJson: path.join(dir, 'gt.json'),
    gtDir: path.join(dir, 'gt'),
    predJson: path.join(dir, 'pred.json'),
    predDir: path.join(dir, 'pred'),
  };
  mkdirSync(files.gtDir, { recursive: true });
  mkdirSync(files.predDir, { recursive: true });
  const categories = benchPanopticCategories();
  const gtImages: { id: number; width: number; height: number; file_name: string }[] = [];
  const gtAnns: unknown[] = [];
  const predAnns: unknown[] = [];
  for (let i = 0; i < images; i++) {
    const id = 139 + 7 * i;
    const name = `${String(id).padStart(12, '0')}.png`;
    const { gt, pred } = synthPanopticPair(seed * 1_000_003 + i, W, H, categories);
    writeFileSync(path.join(files.gtDir, name), encodePanopticPng(gt.ids, W, H));
    writeFileSync(path.join(files.predDir, name), encodePanopticPng(pred.ids, W, H));
    gtImages.push({ id, width: W, height: H, file_name: name.replace('.png', '.jpg') });
    gtAnns.push({ image_id: id, file_name: name, segments_info: gt.segments });
    predAnns.push({
      image_id: id,
      file_name: name,
      segments_info: pred.segments.map((s) => ({ id: s.id, category_id: s.category_id })),
    });
  }
  writeFileSync(files.gtJson, JSON.stringify({ images: gtImages, annotations: gtAnns, categories }));
  writeFileSync(files.predJson, JSON.stringify({ annotations: predAnns }));
  return files;
}

// Our own few lines of Python: panopticapi's pq_compute with its pool forced to 2 processes (it sizes the pool by
// cpu_count), its progress printing sent to stderr; prints the All/Things/Stuff numbers and the time as JSON.
const PANOPTICAPI_SCRIPT = `
import sys, json, time, contextlib, multiprocessing
multiprocessing.cpu_count = lambda: int(sys.argv[5])
from panopticapi.evaluation import pq_compute
t0 = time.perf_counter()
with contextlib.redirect_stdout(sys.stderr):
    r = pq_compute(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4])
dt = time.perf_counter() - t0
out = {k: {m: float(r[k][m]) for m in ('pq', 'sq', 'rq')} for k in ('All', 'Things', 'Stuff')}
for k in out: out[k]['n'] = int(r[k]['n'])
print(json.dumps({'seconds': dt, 'result': out}))
`;

type Scores = Record<'All' | 'Things' | 'Stuff', { pq: number; sq: number; rq: number; n: number }>;

export interface BenchPanopticResult {
  readonly images: number;
  readonly width: number;
  readonly height: number;
  readonly segments: { readonly gt: number; readonly pred: number };
  /** The whole `rewards-metrics pq --workers 2` run. */
  readonly cli: {
    readonly seconds: number;
    readonly peakRssMiB: number;
    readonly workers: number;
    readonly pq: number;
  };
  readonly panopticapi?:
    | {
        /** The whole python3 run: start-up, import, pq_compute with 2 processes. */
        readonly seconds: number;
        readonly pqComputeSeconds: number;
        readonly workers: number;
        readonly pq: number;
        /** Whole python3 run over our whole CLI run. */
        readonly speedup: number;
        /** Largest |Δ| over PQ/SQ/RQ × All/Things/Stuff; the category counts n must be equal. */
        readonly maxAbsDiff: number;
        readonly sameN: boolean;
      }
    | { readonly error: string };
}

export function benchPanoptic(opts: {
  images?: number;
  seed?: number;
  outDir: string;
  reference?: boolean;
  workers?: number;
}): BenchPanopticResult {
  const images = opts.images ?? 500;
  const workers = opts.workers ?? 2;
  const [W, H] = [640, 480];
  const files = writePanopticBench(path.join(opts.outDir, 'panoptic'), images, opts.seed ?? 1, W, H);
  const args = ['--gt-json', files.gtJson, '--gt-dir', files.gtDir, '--pred-json', files.predJson];
  const cli = timeCli(['pq', ...args, '--pred-dir', files.predDir, '--workers', String(workers), '--json']);
  const ours = JSON.parse(cli.stdout) as Scores;
  const count = (file: string): number =>
    (JSON.parse(readFileSync(file, 'utf8')) as { annotations: { segments_info: unknown[] }[] }).annotations.reduce(
      (n, a) => n + a.segments_info.length,
      0,
    );
  const result: BenchPanopticResult = {
    images,
    width: W,
    height: H,
    segments: { gt: count(files.gtJson), pred: count(files.predJson) },
    cli: { seconds: cli.seconds, peakRssMiB: cli.peakRssMiB, workers, pq: ours.All.pq },
  };
  if (opts.reference === false) return result;
  if (spawnSync('python3', ['-c', 'import panopticapi.evaluation'], { stdio: 'ignore' }).status !== 0) return result;
  const t0 = process.hrtime.bigint();
  const py = spawnSync(
    'python3',
    ['-c', PANOPTICAPI_SCRIPT, files.gtJson, files.predJson, files.gtDir, files.predDir, String(workers)],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (py.status !== 0) {
    return { ...result, panopticapi: { error: py.stderr.trim().split('\n').pop() ?? `python3 exited ${py.status}` } };
  }
  const ref = JSON.parse(py.stdout.trim().split('\n').pop() ?? '') as { seconds: number; result: Scores };
  let maxAbsDiff = 0;
  let sameN = true;
  for (const k of ['All', 'Things', 'Stuff'] as const) {
    for (const m of ['pq', 'sq', 'rq'] as const)
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(ref.result[k][m] - ours[k][m]));
    sameN &&= ref.result[k].n === ours[k].n;
  }
  return {
    ...result,
    panopticapi: {
      seconds,
      pqComputeSeconds: ref.seconds,
      workers,
      pq: ref.result.All.pq,
      speedup: seconds / cli.seconds,
      maxAbsDiff,
      sameN,
    },
  };
}
