import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runner } from './commands';

describe('demo --preset mu (stage I, stage II, tuning, evaluation)', () => {
  it('trains every stage, evaluates on test and prints one JSON line with the four rows', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'panoptic-e2e-'));
    const writes: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
      writes.push(String(chunk));
      return true;
    });
    let code: number;
    try {
      code = await runner.demoCommand(['--preset', 'mu', '--out', out, '--name', 'd', '--json', '--from-scratch']);
    } finally {
      spy.mockRestore();
    }
    expect(code).toBe(0);
    const line = JSON.parse(writes.filter((w) => w.startsWith('{"preset"')).pop()!);
    expect(Object.keys(line).slice(0, 7)).toEqual(['preset', 'seed', 'wall_s', 'oracle', 'zero_code', 'mle', 'tuned']);
    expect(line.preset).toBe('mu');
    for (const k of ['PQ', 'SQ', 'RQ']) {
      expect(line.oracle[k]).toBeGreaterThanOrEqual(0);
      expect(line.zero_code[k]).toBeGreaterThanOrEqual(0);
    }
    for (const row of [line.mle, line.tuned])
      for (const k of ['PQ', 'SQ', 'RQ', 'PQ_th', 'PQ_st', 'mean_reward']) expect(Number.isFinite(row[k])).toBe(true);
    const runs = path.join(out, 'task-panoptic');
    for (const r of ['d-oracle', 'd-mle', 'd-tuned']) expect(existsSync(path.join(runs, r, 'config.json'))).toBe(true);
    expect(existsSync(path.join(runs, 'd-tuned', 'compare.html'))).toBe(true);
    expect(existsSync(path.join(runs, 'd-mle', 'eval', 'pictures.png'))).toBe(true);
    const ev = JSON.parse(readFileSync(path.join(runs, 'd-mle', 'eval', 'eval.json'), 'utf8'));
    expect(ev.split).toBe('test');
    expect(ev.images).toBe(8);
    // The oracle the stage II runs trained over is the demo's own.
    const rec = JSON.parse(readFileSync(path.join(runs, 'd-mle', 'oracle.json'), 'utf8'));
    expect(rec.checkpoint).toContain(path.join(runs, 'd-oracle', 'checkpoints'));
  }, 120000);
});
