/**
 * COCO box mAP benchmark: a deterministic generator of COCO-val-sized inputs (5000 images, 80 categories,
 * ~36.8k GT boxes, 100 detections per image) and `benchCoco`, which writes them to files, times
 * `rewards-metrics coco-map` on them and — when this environment's python3 has a working pycocotools — times
 * pycocotools' evaluate + accumulate + summarize on the same files and compares the numbers.
 *
 * The generator is also the source of the randomised golden fixture (src/__fixtures__/coco/golden.json), so any
 * change to it shows up there as a hash mismatch.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CocoAnnotation, CocoDetection, CocoGroundTruth } from '../coco-eval';
import { timeCli } from './harness';

export interface SynthCocoOptions {
  readonly images?: number;
  readonly categories?: number;
  readonly detsPerImage?: number;
  readonly seed?: number;
}

/** mulberry32: a tiny seeded generator, enough for test data. */
function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * Generates a GT and a results list shaped like COCO val2017 and a typical detector's output: log-uniform box sizes
 * across the small/medium/large ranges, ~1% crowd boxes, GT `area` below the box area (as a mask's would be),
 * detections jittered from GT (sometimes with the wrong class) plus background ones, scores with 3 decimals (so
 * ties occur), and a few detections of a category absent from the GT. Image ids are sparse and listed unsorted.
 */
export function synthCoco(opts: SynthCocoOptions = {}): { gt: CocoGroundTruth; dt: CocoDetection[] } {
  const nImages = opts.images ?? 5000;
  const nCats = opts.categories ?? 80;
  const detsPerImage = opts.detsPerImage ?? 100;
  const rand = mulberry32(opts.seed ?? 1);
  const W = 640;
  const H = 480;
  const catIds = Array.from({ length: nCats }, (_, k) => 1 + k + Math.floor(k / 8)); // gaps, like COCO's ids
  const pickCat = (): number => catIds[Math.floor(rand() * nCats)];
  const imgIds = Array.from({ length: nImages }, (_, i) => 100 + 7 * i + Math.floor(rand() * 7));
  for (let i = nImages - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [imgIds[i], imgIds[j]] = [imgIds[j], imgIds[i]];
  }
  const box = (scaleLo: number, scaleHi: number): number[] => {
    const s = Math.exp(Math.log(scaleLo) + rand() * (Math.log(scaleHi) - Math.log(scaleLo)));
    const ar = Math.exp(rand() * 2 - 1);
    const w = Math.min(W, s * Math.sqrt(ar));
    const h = Math.min(H, s / Math.sqrt(ar));
    return [round(rand() * (W - w), 2), round(rand() * (H - h), 2), round(w, 2), round(h, 2)];
  };
  const annotations: CocoAnnotation[] = [];
  const dt: CocoDetection[] = [];
  for (const image_id of imgIds) {
    const nGt = Math.floor(rand() * 15.72);
    const first = annotations.length;
    for (let g = 0; g < nGt; g++) {
      const iscrowd = rand() < 0.01 ? 1 : 0;
      const bbox = iscrowd ? box(60, 400) : box(4, 400);
      const area = round(bbox[2] * bbox[3] * (0.6 + 0.4 * rand()), 2);
      annotations.push({ id: annotations.length + 1, image_id, category_id: pickCat(), bbox, area, iscrowd });
    }
    let nDt = 0;
    for (let g = first; g < annotations.length && nDt < detsPerImage; g++) {
      const src = annotations[g];
      const copies = rand() < 0.8 ? 1 + Math.floor(rand() * 3) : 0;
      for (let c = 0; c < copies && nDt < detsPerImage; c++, nDt++) {
        const [x, y, w, h] = src.bbox;
        const j = (): number => (rand() - 0.5) * 0.25;
        const bbox = [round(x + j() * w, 2), round(y + j() * h, 2), round(w * (1 + j()), 2), round(h * (1 + j()), 2)];
        const category_id = rand() < 0.9 ? src.category_id : pickCat();
        dt.push({ image_id, category_id, bbox, score: round(0.3 + 0.7 * rand(), 3) });
      }
    }
    for (; nDt < detsPerImage; nDt++) {
      const category_id = rand() < 0.005 ? 10_000 : pickCat();
      dt.push({ image_id, category_id, bbox: box(4, 300), score: round(0.5 * rand(), 3) });
    }
  }
  const gt: CocoGroundTruth = {
    images: imgIds.map((id) => ({ id, width: W, height: H })),
    categories: catIds.map((id) => ({ id, name: `class${id}` })),
    annotations,
  };
  return { gt, dt };
}

// Our own few lines of Python: times pycocotools on the two files and prints its stats as JSON. Matplotlib is only
// imported by pycocotools for plotting, so it is stubbed when absent.
const PYCOCOTOOLS_SCRIPT = `
import sys, json, time, types
import numpy as np
if not hasattr(np, 'float'): np.float = float
try:
    import matplotlib.pyplot
except ImportError:
    for name in ('matplotlib', 'matplotlib.pyplot', 'matplotlib.collections', 'matplotlib.patches'):
        sys.modules[name] = types.ModuleType(name)
    sys.modules['matplotlib.collections'].PatchCollection = None
    sys.modules['matplotlib.patches'].Polygon = None
import contextlib, io
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
t0 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1]); dt = gt.loadRes(sys.argv[2])
    t1 = time.perf_counter()
    E = COCOeval(gt, dt, 'bbox'); E.evaluate(); E.accumulate(); E.summarize()
t2 = time.perf_counter()
print(json.dumps({'load_seconds': t1 - t0, 'eval_seconds': t2 - t1, 'stats': [float(s) for s in E.stats]}))
`;

function hasPycocotools(): boolean {
  return spawnSync('python3', ['-c', 'import pycocotools, pycocotools._mask'], { stdio: 'ignore' }).status === 0;
}

export interface BenchCocoResult {
  readonly images: number;
  readonly gtBoxes: number;
  readonly detections: number;
  readonly ours: { readonly seconds: number; readonly peakRssMiB: number };
  readonly pycocotools?: {
    readonly loadSeconds: number;
    readonly evalSeconds: number;
    /** pycocotools evaluate+accumulate+summarize time over our whole CLI run (process start, JSON, evaluation). */
    readonly speedup: number;
    readonly maxAbsStatDiff: number;
  };
}

/** Generates the COCO-val-sized case into `outDir`, times our CLI and (if available) pycocotools on it. */
export async function benchCoco(opts: {
  images?: number;
  seed?: number;
  outDir: string;
  reference?: boolean;
}): Promise<BenchCocoResult> {
  const { gt, dt } = synthCoco({ images: opts.images, seed: opts.seed });
  mkdirSync(opts.outDir, { recursive: true });
  const gtFile = path.join(opts.outDir, 'coco-gt.json');
  const dtFile = path.join(opts.outDir, 'coco-dt.json');
  writeFileSync(gtFile, JSON.stringify(gt));
  writeFileSync(dtFile, JSON.stringify(dt));
  const run = timeCli(['coco-map', '--gt', gtFile, '--dt', dtFile, '--json']);
  const ourStats = (JSON.parse(run.stdout) as { stats: number[] }).stats;
  const result: BenchCocoResult = {
    images: gt.images.length,
    gtBoxes: gt.annotations.length,
    detections: dt.length,
    ours: { seconds: run.seconds, peakRssMiB: run.peakRssMiB },
  };
  if (opts.reference === false || !hasPycocotools()) return result;
  const py = spawnSync('python3', ['-c', PYCOCOTOOLS_SCRIPT, gtFile, dtFile], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (py.status !== 0) throw new Error(`bench: pycocotools run failed: ${py.stderr}`);
  const ref = JSON.parse(py.stdout.trim().split('\n').pop() ?? '') as {
    load_seconds: number;
    eval_seconds: number;
    stats: number[];
  };
  return {
    ...result,
    pycocotools: {
      loadSeconds: ref.load_seconds,
      evalSeconds: ref.eval_seconds,
      speedup: ref.eval_seconds / run.seconds,
      maxAbsStatDiff: Math.max(...ref.stats.map((s, j) => Math.abs(s - ourStats[j]))),
    },
  };
}
