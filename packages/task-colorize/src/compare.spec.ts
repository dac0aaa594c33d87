// The demo comparison's pieces: the tuning curve read from a run's metrics.jsonl (held-out tune evaluations only) and
// the table's rows in the order a reader compares them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { colorizeTable, compareRows, tuningCurve } from './compare';
import type { ColorizeEval, ColourStats } from './eval';

const stats = (c: number): ColourStats => ({ colourfulness: c, grey_fraction: 0.5, psnr: 20, luma_psnr: 28 });
const ev = (c: number): ColorizeEval => ({
  split: 'test',
  images: 2,
  groundTruth: { colourfulness: 60, grey_fraction: 0.4 },
  zeroCode: stats(10),
  trueCode: stats(55),
  greedy: stats(c),
  samples: { ...stats(c + 1), frechet: 2 },
  frechet: 3,
  reward: c,
  perImage: { greedy: [c, c], groundTruth: [60, 60] },
  pictures: { greedy: [], samples: [], zeroCode: [] },
});

describe('colorize comparison', () => {
  it('reads the held-out tune evaluations of metrics.jsonl as (step, colourfulness) and (step, PSNR)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'colorize-cmp-'));
    try {
      const lines = [
        { kind: 'event', phase: 'tune', step: 0, event: 'start' },
        { kind: 'eval', phase: 'tune', step: 0, rewardMean: 9, metrics: { colourfulness: 9, psnr: 18 } },
        { kind: 'train', phase: 'tune', step: 1, loss: 0.1, rewardMean: 12 },
        { kind: 'eval', phase: 'mle', step: 5, metrics: { colourfulness: 1, psnr: 1 } },
        { kind: 'eval', phase: 'tune', step: 25, rewardMean: 40, metrics: { colourfulness: 40, psnr: 16.5 } },
      ];
      writeFileSync(path.join(dir, 'metrics.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
      expect(tuningCurve(dir)).toEqual({
        colour: [
          [0, 9],
          [25, 40],
        ],
        psnr: [
          [0, 18],
          [25, 16.5],
        ],
      });
      expect(tuningCurve(path.join(dir, 'nowhere'))).toEqual({ colour: [], psnr: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rows: ground truth, true code, zero code, MLE greedy and samples, tuned greedy and samples', () => {
    const rows = compareRows(ev(12), ev(70));
    expect(rows.map((r) => r[0])).toEqual([
      'ground truth',
      'oracle, true code',
      'zero code',
      'MLE greedy',
      'MLE samples',
      'tuned greedy',
      'tuned samples',
    ]);
    expect(rows[5][1]?.colourfulness).toBe(70);
    const table = colorizeTable(rows);
    expect(table.split('\n')).toHaveLength(9);
    expect(table).toMatch(/tuned greedy\s+70\.00/);
    expect(table).toContain('not FID');
  });
});
