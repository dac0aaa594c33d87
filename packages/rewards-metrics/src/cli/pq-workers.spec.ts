// `rewards-metrics pq --workers N` through the bundled CLI (worker threads run the bundle): the same output for any
// N, and with several bad image pairs the first one in GT order is reported, whichever thread met it.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writePanopticBench } from '../bench/panoptic';
import { bundleCli } from '../testing/bundle-cli';

const root = path.resolve(__dirname, '../../../..');
const dir = mkdtempSync(path.join(tmpdir(), 'rm-pq-workers-'));
const cli = path.join(dir, 'cli.cjs');
const data = path.join(dir, 'data');

beforeAll(() => {
  bundleCli(cli);
  writePanopticBench(data, 24, 5, 80, 60);
});

const runPq = (d: string, ...extra: string[]) =>
  spawnSync(
    process.execPath,
    [
      cli,
      'pq',
      '--gt-json',
      `${d}/gt.json`,
      '--gt-dir',
      `${d}/gt`,
      '--pred-json',
      `${d}/pred.json`,
      '--pred-dir',
      `${d}/pred`,
      ...extra,
    ],
    { encoding: 'utf8', env: { ...process.env, NODE_PATH: path.join(root, 'node_modules') } },
  );

describe('rewards-metrics pq --workers', () => {
  it('prints the same numbers, to the last digit, with 1, 2 and 3 threads', () => {
    const outs = ['1', '2', '3'].map((n) => runPq(data, '--json', '--workers', n));
    for (const r of outs) {
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
    expect(outs[1].stdout).toBe(outs[0].stdout);
    expect(outs[2].stdout).toBe(outs[0].stdout);
    expect((JSON.parse(outs[0].stdout) as { All: { n: number } }).All.n).toBeGreaterThan(10);
  });

  it('reports the first bad pair in GT order, exit code 2, whichever thread scored it', () => {
    const bad = path.join(dir, 'bad');
    cpSync(data, bad, { recursive: true });
    const gt = JSON.parse(readFileSync(`${bad}/gt.json`, 'utf8')) as {
      annotations: { file_name: string; segments_info: { area: number }[] }[];
    };
    // Pair 3: a GT area off by one; pairs 7 and 20: PNGs that are not PNGs.
    gt.annotations[3].segments_info[0].area += 1;
    writeFileSync(`${bad}/gt.json`, JSON.stringify(gt));
    writeFileSync(`${bad}/pred/${gt.annotations[7].file_name}`, 'not a png');
    writeFileSync(`${bad}/gt/${gt.annotations[20].file_name}`, 'not a png');
    for (const n of ['1', '2', '3']) {
      const r = runPq(bad, '--workers', n);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(
        /^rewards-metrics pq: .*gt\.json: annotations\[3\]: image_id 160: segment id \d+ has area \d+ but \d+ pixels in .*\.png\n$/,
      );
    }
  });

  it('rejects a bad --workers with one line and exit code 2', () => {
    const r = runPq(data, '--workers', '0');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("rewards-metrics pq: --workers: expected a positive integer, got '0'\n");
  });
});
