// The task-caption commands end to end on the `mu` preset (cpu backend; about 15 s alone on 2 cores): files written
// and JSON keys, not how good the captions are (that is the tiny demo's job), and the vocabulary check of --from. Kept
// out of the unit suite (`npm test`); `npm run e2e` and CI run them.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UsageError } from '@reward-tune/core-model';
import { evalCommand, poolCommand, tuneCommand } from './commands';
import { demoCommand } from './demo';
import { METRIC_KEYS } from './task';

/** Runs a command with stdout/stderr captured; returns stdout. */
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

const lastJson = (stdout: string): Record<string, unknown> => JSON.parse(stdout.trim().split('\n').pop()!);
const readJsonFile = (file: string): any => JSON.parse(readFileSync(file, 'utf8'));

/** The command fails with a UsageError (exit code 2 through runCli) whose message is `message`. */
async function expectUsageError(run: Promise<number>, message: string | RegExp): Promise<void> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UsageError);
  if (typeof message === 'string') expect((err as Error).message).toBe(message);
  else expect((err as Error).message).toMatch(message);
}

describe('task-caption commands (plumbing, mu preset)', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'cap-cmd-'));
  const runs = path.join(out, 'task-caption');
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('demo: pretrains, tunes, evaluates both and writes the runs, the comparison and one JSON line', async () => {
    const { code, stdout } = await capture(() =>
      demoCommand(['--preset', 'mu', '--out', out, '--name', 'd', '--backend', 'cpu', '--json', '--from-scratch']),
    );
    expect(code).toBe(0);
    const result = lastJson(stdout);
    expect(Object.keys(result).sort()).toEqual(['mle', 'preset', 'seed', 'tuned', 'val', 'wall_s']);
    // mle and tuned: the test split's numbers; val: the same two models on the validation split.
    expect(Object.keys(result.val as object).sort()).toEqual(['mle', 'tuned']);
    expect(result.preset).toBe('mu');
    expect(result.seed).toBe(0);
    expect(result.wall_s).toBeGreaterThan(0);
    const val = result.val as Record<string, unknown>;
    for (const stats of [result.mle, result.tuned, val.mle, val.tuned] as Record<string, unknown>[]) {
      expect(Object.keys(stats).sort()).toEqual(['BLEU', 'CIDEr-D']);
      expect(typeof stats['CIDEr-D']).toBe('number');
      expect(stats.BLEU).toHaveLength(4);
      for (const b of stats.BLEU as unknown[]) expect(typeof b).toBe('number');
    }
    for (const r of ['d-mle', 'd-tuned']) {
      for (const f of [
        'config.json',
        'metrics.jsonl',
        'report.html',
        'vocabulary.json',
        'eval/metrics.json',
        'eval/captions.json',
        'eval/captions.html',
        'eval/test_000.png',
        'val/eval/metrics.json',
        'val/eval/val_000.png',
      ]) {
        expect([r, f, existsSync(path.join(runs, r, f))]).toEqual([r, f, true]);
      }
      expect(readdirSync(path.join(runs, r, 'checkpoints')).some((f) => f.endsWith('.safetensors'))).toBe(true);
      const metrics = readJsonFile(path.join(runs, r, 'eval', 'metrics.json'));
      expect(Object.keys(metrics).sort()).toEqual(['images', 'mean_reward', 'split', ...METRIC_KEYS].sort());
      expect([metrics.split, metrics.images]).toEqual(['test', 8]); // mu: 8 test images, eval.images = 0 (all)
      expect(readJsonFile(path.join(runs, r, 'val', 'eval', 'metrics.json')).split).toBe('val');
      // COCO results: one {image_id, caption} per test image, ids as in captions_test.json (1..8).
      const captions = readJsonFile(path.join(runs, r, 'eval', 'captions.json'));
      expect(captions.map((c: { image_id: number }) => c.image_id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      for (const c of captions)
        expect([Object.keys(c).sort(), typeof c.caption]).toEqual([['caption', 'image_id'], 'string']);
    }
    // The tuned run decodes with the MLE run's word ids.
    expect(readJsonFile(path.join(runs, 'd-tuned', 'vocabulary.json'))).toEqual(
      readJsonFile(path.join(runs, 'd-mle', 'vocabulary.json')),
    );
    const page = readFileSync(path.join(runs, 'd-tuned', 'compare.html'), 'utf8');
    expect(page).toContain('MLE vs reward-tuned');
    expect(page).toContain('<b>test split</b> (8 images');
    // mu shows 2 test pictures, each with its references.
    expect(existsSync(path.join(runs, 'd-tuned', 'compare', 'test_001.png'))).toBe(true);
    expect(existsSync(path.join(runs, 'd-tuned', 'compare', 'test_002.png'))).toBe(false);
    const firstRef = readJsonFile(path.join(out, 'data', 'captions-s0-32px-16x8-max2', 'captions_test.json'))
      .annotations[0].caption;
    expect(page).toContain(`<li>${firstRef}</li>`);
  });

  it('tune --set tune.estimator=greedy: a self-critical run from the MLE run', async () => {
    const { code, stdout } = await capture(() =>
      tuneCommand([
        '--from',
        path.join(runs, 'd-mle'),
        '--out',
        out,
        '--name',
        'sc',
        '--backend',
        'cpu',
        '--json',
        '--set',
        'tune.estimator=greedy',
      ]),
    );
    expect(code).toBe(0);
    const result = lastJson(stdout);
    expect(Object.keys(result).sort()).toEqual(['BLEU', 'CIDEr-D', 'run', 'split']);
    expect([result.run, result.split]).toEqual([path.join(runs, 'sc'), 'test']);
    expect(readJsonFile(path.join(runs, 'sc', 'config.json')).tune.estimator).toBe('greedy');
    const train = readFileSync(path.join(runs, 'sc', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((r) => r.kind === 'train');
    expect(train.map((r) => r.step)).toEqual([1, 2, 3]); // mu: tune.steps = 3
  });

  it('eval: re-evaluates a run from its latest checkpoint; refuses a checkpoint whose vocabulary does not fit', async () => {
    const { code, stdout } = await capture(() =>
      evalCommand(['--from', path.join(runs, 'd-tuned'), '--out', out, '--backend', 'cpu', '--json']),
    );
    expect(code).toBe(0);
    const result = lastJson(stdout);
    expect(Object.keys(result).sort()).toEqual(['BLEU', 'CIDEr-D', 'checkpoint', 'split']);
    expect(result.split).toBe('test');
    expect(String(result.checkpoint)).toMatch(/d-tuned\/checkpoints\/step_0*3\.safetensors$/);

    const copy = path.join(runs, 'copy');
    cpSync(path.join(runs, 'd-tuned'), copy, { recursive: true });
    const vocabFile = path.join(copy, 'vocabulary.json');
    const vocab = readJsonFile(vocabFile);
    const [w0, w1] = vocab.words;
    vocab.words[0] = w1;
    vocab.words[1] = w0;
    writeFileSync(vocabFile, JSON.stringify(vocab));
    const evalCopy = () => evalCommand(['--from', copy, '--out', out, '--backend', 'cpu']);
    await expectUsageError(
      evalCopy(),
      `${vocabFile}: words[0]: "${w1}" saved, but this run's training references give "${w0}" (different data or caption.minCount)`,
    );
    rmSync(vocabFile);
    await expectUsageError(
      evalCopy(),
      /copy\/checkpoints\/step_0*3\.safetensors: no vocabulary\.json in its run directory/,
    );
  });

  it('pool: the best-of-N line and pool.json / pool.svg beside the run', async () => {
    const run = path.join(runs, 'd-mle');
    const args = ['--from', run, '--out', out, '--backend', 'cpu', '--json', '--sizes', '1,2,4', '--images', '3'];
    const { code, stdout } = await capture(() => poolCommand([...args, '--rows', '5']));
    expect(code).toBe(0);
    const line = lastJson(stdout) as { N: number[]; random: number[]; most_likely: number[]; best: number[] };
    expect(Object.keys(line)).toEqual(['N', 'random', 'most_likely', 'best', 'greedy']);
    expect(line.N).toEqual([1, 2, 4]);
    for (const k of ['random', 'most_likely', 'best'] as const) expect(line[k]).toHaveLength(3);
    for (let i = 1; i < 3; i++) expect(line.best[i]).toBeGreaterThanOrEqual(line.best[i - 1]);
    const saved = readJsonFile(path.join(run, 'pool', 'pool.json'));
    expect(saved).toMatchObject({ ...line, split: 'test', images: 3 });
    expect(readFileSync(path.join(run, 'pool', 'pool.svg'), 'utf8')).toContain('most likely of N');
  });
});
