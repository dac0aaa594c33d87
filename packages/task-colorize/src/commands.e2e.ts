// The task-colorize demo end to end at the `mu` preset (wasm backend; seconds): stage I, then `demo --from-scratch`
// over that oracle (stage II MLE → tuning → both evaluated on test and val), the JSON line's keys and the comparison
// page. Plumbing only: how vivid the tuned colours get is the tiny demo's job. Kept out of the unit suite; `npm run
// e2e` and CI run it.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { taskRunner } from '@reward-tune/reinforce';
import { colorizeAdapter } from './setup';

const runner = taskRunner(colorizeAdapter);

async function capture(run: () => Promise<number>): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return { code: await run(), stdout };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}
const lastJson = (stdout: string): Record<string, any> => JSON.parse(stdout.trim().split('\n').pop()!);

describe('task-colorize demo (plumbing, mu preset)', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'colorize-demo-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));
  const common = ['--preset', 'mu', '--out', out, '--backend', 'wasm'];

  it('pretrain-oracle, then demo --from-scratch: one JSON line with the suite’s numbers, compare.html', async () => {
    const o = await capture(() => runner.pretrainOracleCommand([...common, '--name', 'oracle', '--json']));
    expect(o.code).toBe(0);
    const oracle = lastJson(o.stdout).run as string;
    const d = await capture(() =>
      runner.demoCommand([
        ...common,
        '--name',
        'demo',
        '--from-scratch',
        '--json',
        '--set',
        `oracle.checkpoint=${oracle}`,
      ]),
    );
    expect(d.code).toBe(0);
    const line = lastJson(d.stdout);
    expect(line).toMatchObject({ preset: 'mu', seed: 0 });
    expect(typeof line.wall_s).toBe('number');
    expect(line.ground_truth.colourfulness).toBe(line.mle.ground_truth.colourfulness);
    for (const row of ['true_code', 'zero_code']) expect(Number.isFinite(line[row].colourfulness)).toBe(true);
    for (const model of ['mle', 'tuned']) {
      for (const k of ['colourfulness', 'grey_fraction', 'psnr', 'luma_psnr', 'frechet_colour_proxy'])
        expect(Number.isFinite(line[model][k])).toBe(true);
      expect(line[model].images).toBe(8);
      expect(line[model].ground_truth.colourfulness).toBeGreaterThan(20);
    }
    const tuned = path.join(out, 'task-colorize', 'demo-tuned');
    const page = readFileSync(path.join(tuned, 'compare.html'), 'utf8');
    expect(page).toContain('not FID');
    expect(page).toContain('tuned samples');
    expect(existsSync(path.join(tuned, 'compare', '0_tuned.png'))).toBe(true);
    expect(existsSync(path.join(tuned, 'compare', '0_tuned_sample1.png'))).toBe(true);
    expect(existsSync(path.join(tuned, 'eval', 'summary.json'))).toBe(true);
  }, 120_000);
});
