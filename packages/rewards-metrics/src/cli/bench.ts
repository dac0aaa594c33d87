/**
 * `rewards-metrics bench [--json] [--images N] [--pq-images M] [--out DIR] [--no-reference]`: generates the
 * COCO-val-sized detection case and the caption corpus (deterministic, N images each, default 5000) and M panoptic
 * 640×480 GT/prediction pairs (default 500, at most N) into DIR (default a new temp dir), times this CLI's
 * `coco-map`, `cider` and `pq` commands on them as child processes (wall seconds, peak RSS), times the per-sample
 * rewards in-process (µs), and — unless --no-reference, and only where `python3` can import them (a user supplies
 * them via PYTHONPATH) — pycocotools, pycocoevalcap and panopticapi on the same files, with the speed-up ratios.
 *
 * It must run from the bundle (dist/cli.cjs), which it re-runs as the timed child.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchCaption, type BenchCaptionResult } from '../bench/caption';
import { benchCoco, type BenchCocoResult } from '../bench/coco';
import { benchPanoptic, type BenchPanopticResult } from '../bench/panoptic';
import { benchRewards, type RewardTimings } from '../bench/rewards';
import { InputError, parseFlags } from './io';

export interface BenchReport {
  readonly machine: {
    readonly node: string;
    readonly arch: string;
    readonly cpus: number;
    readonly cpuModel: string;
    readonly loadavgStart: number[];
    readonly loadavgEnd: number[];
  };
  readonly outDir: string;
  readonly coco: BenchCocoResult;
  readonly caption: BenchCaptionResult;
  readonly panoptic: BenchPanopticResult;
  readonly perSample: RewardTimings;
}

function parseImages(v: string | boolean | undefined, flag: string, otherwise: number): number {
  if (v === undefined) return otherwise;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n < 1)
    throw new InputError(`--${flag}: expected a positive integer, got '${String(v)}'`);
  return n;
}

const f = (x: number, digits = 2): string => x.toFixed(digits);

function summary(r: BenchReport): string {
  const lines: string[] = [];
  const m = r.machine;
  const load = (l: number[]): string => l.map((x) => f(x)).join(' ');
  lines.push(
    `machine: ${m.cpus}× ${m.cpuModel}, ${m.arch}, node ${m.node}, load ${load(m.loadavgStart)} at start, ${load(m.loadavgEnd)} at end`,
  );
  lines.push(`inputs in ${r.outDir}`);
  const c = r.coco;
  lines.push('', `coco-map: ${c.images} images, ${c.gtBoxes} GT boxes, ${c.detections} detections`);
  lines.push(`  rewards-metrics   ${f(c.ours.seconds)} s   ${f(c.ours.peakRssMiB, 0)} MiB peak RSS (whole run)`);
  if (c.pycocotools) {
    const p = c.pycocotools;
    lines.push(
      `  pycocotools       ${f(p.evalSeconds)} s evaluate+accumulate+summarize (+${f(p.loadSeconds)} s loading)`,
    );
    lines.push(`  speed-up          ${f(p.speedup, 1)}×   max |Δstat| ${p.maxAbsStatDiff.toExponential(1)}`);
  } else lines.push('  pycocotools       not run');
  const k = r.caption;
  lines.push('', `cider: ${k.images} images, 5 references each`);
  lines.push(
    `  rewards-metrics   ${f(k.cli.seconds)} s   ${f(k.cli.peakRssMiB, 0)} MiB peak RSS (whole run, with BLEU); scorer alone ${f(k.inProcess.ciderDScorerSeconds, 3)} s`,
  );
  const p = k.pycocoevalcap;
  if (p === undefined) lines.push('  pycocoevalcap     not run');
  else if ('error' in p) lines.push(`  pycocoevalcap     failed: ${p.error}`);
  else {
    lines.push(`  pycocoevalcap     ${f(p.seconds)} s whole run; compute_score ${f(p.scorerSeconds, 3)} s`);
    lines.push(
      `  speed-up          ${f(p.speedup, 1)}× whole run, ${f(p.scorerSpeedup, 1)}× scorer   |ΔCIDEr-D| ${p.absDiff.toExponential(1)}`,
    );
  }
  const q = r.panoptic;
  lines.push(
    '',
    `pq: ${q.images} image pairs ${q.width}×${q.height}, ${q.segments.gt} GT and ${q.segments.pred} predicted segments`,
  );
  lines.push(
    `  rewards-metrics   ${f(q.cli.seconds)} s   ${f(q.cli.peakRssMiB, 0)} MiB peak RSS (whole run, ${q.cli.workers} threads)`,
  );
  const a = q.panopticapi;
  if (a === undefined) lines.push('  panopticapi       not run');
  else if ('error' in a) lines.push(`  panopticapi       failed: ${a.error}`);
  else {
    lines.push(
      `  panopticapi       ${f(a.seconds)} s whole run; pq_compute (${a.workers} processes) ${f(a.pqComputeSeconds)} s`,
    );
    lines.push(
      `  speed-up          ${f(a.speedup, 1)}× whole run   max |Δ| PQ/SQ/RQ ${a.maxAbsDiff.toExponential(1)}${a.sameN ? '' : '   category counts differ'}`,
    );
  }
  const s = r.perSample;
  lines.push('', 'per sample (in-process, median):');
  lines.push(`  detection reward, 100 boxes      ${f(s.detectionReward100BoxesMicroseconds, 1)} µs`);
  lines.push(
    `  detection reward, 8 boxes        ${f(s.detectionReward8BoxesMicroseconds, 2)} µs (value alone ${f(s.detectionRewardValue8BoxesMicroseconds, 2)} µs)`,
  );
  lines.push(`  CIDEr-D, one caption (df of ${s.ciderDDfImages})  ${f(s.ciderDMicroseconds, 1)} µs`);
  lines.push(`  PQ, one 512×512 image            ${f(s.pq512Microseconds, 0)} µs`);
  return `${lines.join('\n')}\n`;
}

export async function run(args: readonly string[]): Promise<number> {
  const { values } = parseFlags(args, {
    json: { type: 'boolean' },
    images: { type: 'string' },
    'pq-images': { type: 'string' },
    out: { type: 'string' },
    'no-reference': { type: 'boolean' },
  });
  const images = parseImages(values.images, 'images', 5000);
  const pqImages = parseImages(values['pq-images'], 'pq-images', Math.min(500, images));
  const outDir =
    typeof values.out === 'string'
      ? path.resolve(values.out)
      : mkdtempSync(path.join(os.tmpdir(), 'rewards-metrics-bench-'));
  const reference = values['no-reference'] !== true;
  const loadavgStart = os.loadavg(); // shared machines: the load says how far to trust the timings
  const coco = await benchCoco({ images, outDir, reference });
  const caption = await benchCaption({ images, outDir, reference });
  const panoptic = benchPanoptic({ images: pqImages, outDir, reference });
  // Fewer repetitions for small runs (the plumbing test); 20000 at COCO-val size.
  const perSample = benchRewards({ reps: Math.min(20000, Math.max(200, images * 4)), dfImages: images });
  const cpus = os.cpus();
  const report: BenchReport = {
    machine: {
      node: process.version,
      arch: process.arch,
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      loadavgStart,
      loadavgEnd: os.loadavg(),
    },
    outDir,
    coco,
    caption,
    panoptic,
    perSample,
  };
  process.stdout.write(values.json ? `${JSON.stringify(report)}\n` : summary(report));
  return 0;
}
