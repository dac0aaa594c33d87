// The `bench` command's plumbing, end to end with tiny sizes: it must run from the bundle (it re-runs the bundle as
// the timed child), so the CLI is bundled into a temp dir first. Not a test of the numbers.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BenchReport } from './bench';
import { bundleCli } from '../testing/bundle-cli';

const root = path.resolve(__dirname, '../../../..');
const dir = mkdtempSync(path.join(tmpdir(), 'rm-bench-spec-'));
const cli = path.join(dir, 'cli.cjs');

beforeAll(() => {
  bundleCli(cli);
});

// npm dependencies stay external, so the bundle in the temp dir finds them through NODE_PATH (as do its children).
const runCli = (...args: string[]) =>
  spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NODE_PATH: path.join(root, 'node_modules') },
  });

describe('rewards-metrics bench', () => {
  it('--json prints exactly one JSON object with every timing, and writes the inputs to --out', () => {
    const out = path.join(dir, 'out');
    const r = runCli('bench', '--json', '--images', '12', '--pq-images', '3', '--out', out, '--no-reference');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as BenchReport;
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(report.outDir).toBe(out);
    expect(readdirSync(out).sort()).toEqual(['cands.json', 'coco-dt.json', 'coco-gt.json', 'panoptic', 'refs.json']);
    expect(readdirSync(path.join(out, 'panoptic')).sort()).toEqual(['gt', 'gt.json', 'pred', 'pred.json']);
    expect(readdirSync(path.join(out, 'panoptic', 'gt'))).toHaveLength(3);
    expect(report.coco.images).toBe(12);
    expect(report.coco.detections).toBe(1200);
    expect(report.coco.ours.seconds).toBeGreaterThan(0);
    expect(report.coco.ours.peakRssMiB).toBeGreaterThan(10);
    expect(report.coco.pycocotools).toBeUndefined(); // --no-reference
    expect(report.caption.images).toBe(12);
    expect(report.caption.cli['CIDEr-D']).toBeGreaterThan(0);
    expect(report.caption.pycocoevalcap).toBeUndefined();
    expect(report.panoptic.images).toBe(3); // --pq-images
    expect([report.panoptic.width, report.panoptic.height]).toEqual([640, 480]);
    expect(report.panoptic.cli.workers).toBe(2);
    expect(report.panoptic.cli.pq).toBeGreaterThan(0.2);
    expect(report.panoptic.cli.pq).toBeLessThan(1);
    expect(report.panoptic.panopticapi).toBeUndefined();
    for (const us of [
      report.perSample.detectionReward100BoxesMicroseconds,
      report.perSample.detectionReward8BoxesMicroseconds,
      report.perSample.detectionRewardValue8BoxesMicroseconds,
      report.perSample.ciderDMicroseconds,
      report.perSample.pq512Microseconds,
    ]) {
      expect(Number.isFinite(us) && us > 0).toBe(true);
    }
    expect(report.machine.cpus).toBeGreaterThan(0);
  });

  it('without --json prints a readable summary into a new temp dir', () => {
    const r = runCli('bench', '--images', '5', '--no-reference');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^coco-map: 5 images, \d+ GT boxes, 500 detections$/m);
    expect(r.stdout).toMatch(/^cider: 5 images, 5 references each$/m);
    expect(r.stdout).toMatch(/^pq: 5 image pairs 640×480, \d+ GT and \d+ predicted segments$/m);
    expect(r.stdout).toMatch(/PQ, one 512×512 image +\d+ µs/);
    const outDir = /^inputs in (.*)$/m.exec(r.stdout)?.[1] ?? '';
    expect(existsSync(path.join(outDir, 'coco-gt.json'))).toBe(true);
  });

  it('rejects a bad --images with one line and exit code 2', () => {
    const r = runCli('bench', '--images', 'lots');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("rewards-metrics bench: --images: expected a positive integer, got 'lots'\n");
    expect(r.stdout).toBe('');
  });
});
