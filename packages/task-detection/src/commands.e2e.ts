// The task's commands end to end on the mu preset (seconds of training each, 45–75 s in all on 2 cores): the demo,
// `demo --resume`, `eval`, `tune --resume`, tuning with the sampling process, `noise`, `pool` and `fit-score` write and
// read real run directories. Kept out of the unit suite (`npm test`); `npm run e2e` and CI run them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadCheckpoint, UsageError } from '@reward-tune/core-model';
import { TUNED_FROM } from '@reward-tune/reinforce';
import { evalCommand, noiseCommand, poolCommand, tuneCommand } from './commands';
import { demoCommand } from './demo';
import { fitScoreCommand } from './fit-score';

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

/** The bundled CLI (rebuilt when a source is newer), which the sampling process of tune.sampler.kind=process runs. */
function builtCli(): string {
  const root = path.resolve(__dirname, '..', '..', '..');
  const pkg = path.resolve(__dirname, '..');
  const script = `const m = await import(${JSON.stringify(path.join(root, 'tools', 'build.mjs'))}); await m.ensureCli(${JSON.stringify(pkg)});`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building the CLI failed: ${r.stderr}`);
  return path.join(pkg, 'dist', 'cli.cjs');
}

/** A run's parameters at its checkpoint `step`. */
function checkpointParams(run: string, step: number): Record<string, number[]> {
  const c = loadCheckpoint(path.join(run, 'checkpoints', `step_${String(step).padStart(6, '0')}.safetensors`));
  if (c._tag === 'Left') throw new Error(c.left);
  return Object.fromEntries([...c.right.params].map(([k, t]) => [k, Array.from(t.data)]));
}

describe('task-detection commands (plumbing, mu preset)', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'det-cmd-'));

  it('demo: pretrains, tunes, evaluates both and writes the runs, the report and one JSON line', async () => {
    const { code, stdout } = await capture(() =>
      demoCommand(['--preset', 'mu', '--out', out, '--name', 'd', '--backend', 'cpu', '--json', '--from-scratch']),
    );
    expect(code).toBe(0);
    const result = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(result.preset).toBe('mu');
    expect(result.seed).toBe(0);
    expect(result.wall_s).toBeGreaterThan(0);
    // mle and tuned: the test split's numbers; val: the same two models on the validation split.
    expect(Object.keys(result).sort()).toEqual(['mle', 'preset', 'seed', 'tuned', 'val', 'wall_s']);
    for (const stats of [result.mle, result.tuned, result.val.mle, result.val.tuned]) {
      expect(stats.stats).toHaveLength(12);
      expect(typeof stats.mean_reward).toBe('number');
    }
    const runs = path.join(out, 'task-detection');
    for (const r of ['d-mle', 'd-tuned']) {
      for (const f of ['config.json', 'metrics.jsonl', 'report.html', 'eval/metrics.json', 'eval/results.json'])
        expect(existsSync(path.join(runs, r, f))).toBe(true);
      const split = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'eval', 'metrics.json'), 'utf8')).split;
      expect([split(path.join(runs, r)), split(path.join(runs, r, 'val'))]).toEqual(['test', 'val']);
      expect(readdirSync(path.join(runs, r, 'checkpoints')).some((f) => f.endsWith('.safetensors'))).toBe(true);
    }
    const page = readFileSync(path.join(runs, 'd-tuned', 'compare.html'), 'utf8');
    expect(page).toContain('MLE vs reward-tuned');
    expect(page).toContain('<b>test split</b> (8 images');
    expect(existsSync(path.join(runs, 'd-tuned', 'compare', 'test_000_tuned.png'))).toBe(true);
    const results = JSON.parse(readFileSync(path.join(runs, 'd-tuned', 'eval', 'results.json'), 'utf8'));
    for (const d of results) expect(Object.keys(d).sort()).toEqual(['bbox', 'category_id', 'image_id', 'score']);
  });

  it('demo --resume: a demo stopped during tuning, or before it, ends where an uninterrupted one does', async () => {
    const runs = path.join(out, 'task-detection');
    const demo = async (args: string[]) => {
      const { code, stdout } = await capture(() => demoCommand([...args, '--backend', 'cpu', '--json']));
      expect(code).toBe(0);
      return JSON.parse(stdout.trim().split('\n').pop()!) as { tuned: { stats: number[]; mean_reward: number } };
    };
    const events = (run: string) =>
      readFileSync(path.join(runs, run, 'metrics.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"event"'))
        .map((l) => JSON.parse(l).event);
    // The first test's demo `d` is the uninterrupted one: same preset, seed and data.
    const evalOf = (run: string) => JSON.parse(readFileSync(path.join(runs, run, 'eval', 'metrics.json'), 'utf8'));
    const whole = { mle: evalOf('d-mle'), tuned: evalOf('d-tuned') };
    await demo(['--preset', 'mu', '--out', out, '--name', 'legs', '--from-scratch']);
    expect(JSON.parse(readFileSync(path.join(runs, 'legs-mle', 'demo.json'), 'utf8'))).toEqual({
      preset: 'mu',
      mle: 'pretrain',
    });

    // As if stopped after tuning update 2 of 3: its last checkpoint gone. No --out: the demo's runs say where they are.
    rmSync(path.join(runs, 'legs-tuned', 'checkpoints', 'step_000003.safetensors'));
    const resumed = await demo(['--resume', '--from', path.join(runs, 'legs-tuned')]);
    expect(resumed.tuned.stats[0]).toBe(whole.tuned.AP);
    expect(resumed.tuned.mean_reward).toBe(whole.tuned.mean_reward);
    expect(evalOf('legs-tuned')).toEqual(whole.tuned);
    expect(evalOf('legs-mle')).toEqual(whole.mle);
    // The updates past the checkpoint it resumed from, which the stopped run had logged, are logged once.
    expect(events('legs-tuned')).toEqual(['start', 'resumed', 'done']);
    expect(events('legs-mle')).toEqual(['start', 'done', 'resumed', 'done']); // the finished MLE run only reloads

    // As if stopped before tuning began (--from may name either run).
    rmSync(path.join(runs, 'legs-tuned'), { recursive: true });
    await demo(['--resume', '--from', path.join(runs, 'legs-mle')]);
    expect(evalOf('legs-tuned')).toEqual(whole.tuned);
    expect(events('legs-tuned')).toEqual(['start', 'done']);

    // Not a demo: one line naming what is missing, before anything is touched.
    const mleConfig = readFileSync(path.join(runs, 'legs-mle', 'config.json'), 'utf8');
    await expect(demoCommand(['--resume', '--from', path.join(runs, 'straight')])).rejects.toThrow(UsageError);
    await expect(demoCommand(['--resume', '--from', path.join(runs, 'legs-mle'), '--from-scratch'])).rejects.toThrow(
      'drop --from-scratch',
    );
    writeFileSync(path.join(runs, 'legs-mle', 'demo.json'), '{"preset": "mu"}');
    await expect(demoCommand(['--resume', '--from', path.join(runs, 'legs-tuned')])).rejects.toThrow(
      new UsageError(`${path.join(runs, 'legs-mle', 'demo.json')}: mle: expected a non-empty string`),
    );
    expect(readFileSync(path.join(runs, 'legs-mle', 'config.json'), 'utf8')).toBe(mleConfig);
  });

  it('eval: re-evaluates a run from its latest checkpoint, under the score rule asked for, reporting both rules', async () => {
    const run = path.join(out, 'task-detection', 'd-tuned');
    const { code, stdout } = await capture(() =>
      evalCommand(['--from', run, '--out', out, '--backend', 'cpu', '--json', '--set', 'eval.score=confidence']),
    );
    expect(code).toBe(0);
    const stats = JSON.parse(stdout.trim()).stats;
    expect(stats).toHaveLength(12);
    const written = JSON.parse(readFileSync(path.join(run, 'eval', 'metrics.json'), 'utf8'));
    expect(written.score).toBe('confidence');
    expect(Object.keys(written.by_score).sort()).toEqual(['confidence', 'likelihood']);
    expect(stats[0]).toBe(written.by_score.confidence.AP);
    expect(written.AP).toBe(written.by_score.confidence.AP);
    expect(written.oracle_score.boxes_per_image).toBe(written.boxes_per_image); // the same boxes, ranked by the oracle
    // Every emitted box has one outcome, and they are the boxes the COCO results hold.
    const o = written.box_outcomes;
    expect(o.found + o.duplicate + o.wrongClass + o.noObject).toBe(o.boxes);
    expect(o.boxes).toBeCloseTo(written.boxes_per_image * written.images, 9);
    expect(o.objects).toBeGreaterThan(0);
  });

  it('tune --resume: a run continued from its checkpoint ends where an uninterrupted one does', async () => {
    const runs = path.join(out, 'task-detection');
    const mle = path.join(runs, 'd-mle');
    const common = ['--out', out, '--backend', 'cpu', '--set', 'tune.checkpointEvery=2'];
    expect(
      (await capture(() => tuneCommand(['--from', mle, '--name', 'straight', ...common, '--set', 'tune.steps=4'])))
        .code,
    ).toBe(0);
    // Two legs: 2 updates, then the same run resumed up to 4 (as after Ctrl-C, a crash, or to tune for longer).
    expect(
      (await capture(() => tuneCommand(['--from', mle, '--name', 'legs', ...common, '--set', 'tune.steps=2']))).code,
    ).toBe(0);
    const recorded = JSON.parse(readFileSync(path.join(runs, 'legs', TUNED_FROM), 'utf8')).checkpoint;
    expect(recorded).toBe(path.join(mle, 'checkpoints', 'step_000004.safetensors'));
    expect(
      (
        await capture(() =>
          tuneCommand([
            '--resume',
            '--from',
            path.join(runs, 'legs'),
            '--out',
            out,
            '--backend',
            'cpu',
            '--set',
            'tune.steps=4',
          ]),
        )
      ).code,
    ).toBe(0);
    const params = (run: string) => {
      const c = loadCheckpoint(path.join(runs, run, 'checkpoints', 'step_000004.safetensors'));
      if (c._tag === 'Left') throw new Error(c.left);
      return Object.fromEntries([...c.right.params].map(([k, t]) => [k, Array.from(t.data)]));
    };
    expect(params('legs')).toEqual(params('straight'));
    const events = readFileSync(path.join(runs, 'legs', 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"event"'))
      .map((l) => JSON.parse(l).event);
    expect(events).toEqual(['start', 'done', 'resumed', 'done']);
    // Only a tuning run can be resumed as one, and the refusal leaves the run as it was.
    const config = readFileSync(path.join(mle, 'config.json'), 'utf8');
    await expect(
      tuneCommand(['--resume', '--from', mle, '--out', out, '--backend', 'cpu', '--set', 'tune.steps=9']),
    ).rejects.toThrow(new UsageError(`--from ${mle}: not a tuning run (no ${TUNED_FROM})`));
    expect(readFileSync(path.join(mle, 'config.json'), 'utf8')).toBe(config);
  });

  it('tune.sampler.kind=process: S = 0 is the per-job loop bit for bit (one or two processes); S = 1 samples one update behind and resumes', async () => {
    const cli = builtCli();
    const runs = path.join(out, 'task-detection');
    const mle = path.join(runs, 'd-mle');
    const tune = async (name: string, steps: number, ...set: string[]) => {
      const args = ['--from', mle, '--name', name, '--out', out, '--backend', 'cpu', '--set', `tune.steps=${steps}`];
      // A rate at which 4 updates move the policy (mu's own barely does), so that stale samples show.
      const fast = ['tune.optimizer.lr=0.05', 'tune.optimizer.schedule={"kind":"constant","warmupSteps":0}'];
      const sets = ['tune.checkpointEvery=2', ...fast, ...set].flatMap((s) => ['--set', s]);
      expect((await capture(() => tuneCommand([...args, ...sets]))).code).toBe(0);
      return path.join(runs, name);
    };
    const process1 = ['tune.sampler.kind=process'];
    const perJob = await tune('per-job', 4, 'tune.seedDerivation=per-job');
    const s0 = await tune('sampler-s0', 4, ...process1, 'tune.sampler.staleness=0');
    expect(checkpointParams(s0, 4)).toEqual(checkpointParams(perJob, 4));
    // Two sampling processes, one part (one image) each: the same updates again.
    const parts = ['tune.microBatch=1'];
    const perJobParts = await tune('per-job-parts', 4, 'tune.seedDerivation=per-job', ...parts);
    const two = ['tune.sampler.staleness=0', 'tune.sampler.processes=2', ...parts];
    const s0two = await tune('sampler-s0-two', 4, ...process1, ...two);
    expect(checkpointParams(s0two, 4)).toEqual(checkpointParams(perJobParts, 4));
    const s1 = await tune('sampler-s1', 4, ...process1);
    const train = readFileSync(path.join(s1, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"kind":"train"'))
      .map((l) => JSON.parse(l));
    expect(train.map((r) => [r.version, r.staleness])).toEqual([
      [0, 0],
      [0, 1],
      [1, 1],
      [2, 1],
    ]);
    // The first update samples with the weights it updates (π/μ = 1); the later ones with the previous update's.
    expect(Math.abs(train[0].isMean - 1)).toBeLessThan(1e-5);
    for (const r of train.slice(1)) expect(Math.abs(r.isMean - 1)).toBeGreaterThan(1e-3);
    // Stopped after 2 updates and resumed: the version update 2 samples with comes from beside the checkpoint.
    const legs = await tune('sampler-legs', 2, ...process1);
    expect(readdirSync(path.join(legs, 'sampler-weights'))).toEqual(['v1.safetensors']);
    const resumed = await capture(() =>
      tuneCommand(['--resume', '--from', legs, '--out', out, '--backend', 'cpu', '--set', 'tune.steps=4']),
    );
    expect(resumed.code).toBe(0);
    expect(checkpointParams(legs, 4)).toEqual(checkpointParams(s1, 4));
    // The sampling process is tune's: started by hand it says so in one line (exit 2).
    const byHand = spawnSync(process.execPath, [cli, 'sampler'], { encoding: 'utf8' });
    expect(byHand.status).toBe(2);
    expect(byHand.stderr.trim().split('\n')).toHaveLength(1);
    expect(byHand.stderr).toMatch(/sampler: .*tune starts it/);
  }, 240_000);

  it('noise: measures the gradient noise of tuning from a run, writing nothing', async () => {
    const run = path.join(out, 'task-detection', 'd-mle');
    const before = readdirSync(path.join(out, 'task-detection')).sort();
    const { code, stdout } = await capture(() =>
      noiseCommand(['--from', run, '--out', out, '--backend', 'cpu', '--json', '--batches', '3']),
    );
    expect(code).toBe(0);
    const r = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(r.batches).toBe(3);
    expect(r.rowsPerBatch).toBe(2); // the mu preset's tune batch, paper estimator: one row per image
    expect(r.parameters).toBeGreaterThan(0);
    // A 4-step MLE model may draw equal rewards (zero advantages, zero gradients): the numbers are checked in
    // reinforce.
    expect(r.batchGradSq).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(r.trueGradSq)).toBe(true);
    expect(readdirSync(path.join(out, 'task-detection')).sort()).toEqual(before);
    await expect(noiseCommand(['--from', run, '--out', out, '--backend', 'cpu', '--batches', '2'])).rejects.toThrow(
      /--batches must be an integer ≥ 3, got '2'/,
    );
    await expect(noiseCommand(['--out', out, '--backend', 'cpu'])).rejects.toThrow(UsageError);
  });

  it('pool: the best-of-N line and pool.json / pool.svg beside the run', async () => {
    const run = path.join(out, 'task-detection', 'd-tuned');
    const args = ['--from', run, '--out', out, '--backend', 'cpu', '--json', '--sizes', '1,2,4', '--images', '3'];
    const { code, stdout } = await capture(() => poolCommand([...args, '--rows', '5']));
    expect(code).toBe(0);
    const line = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(Object.keys(line)).toEqual(['N', 'random', 'most_likely', 'best', 'greedy']);
    expect(line.N).toEqual([1, 2, 4]);
    for (const k of ['random', 'most_likely', 'best']) expect(line[k]).toHaveLength(3);
    for (let i = 1; i < 3; i++) expect(line.best[i]).toBeGreaterThanOrEqual(line.best[i - 1]);
    const saved = JSON.parse(readFileSync(path.join(run, 'pool', 'pool.json'), 'utf8'));
    expect(saved).toMatchObject({ ...line, split: 'test', images: 3 });
    expect(readFileSync(path.join(run, 'pool', 'pool.svg'), 'utf8')).toContain('best of N (oracle)');
  });

  it('fit-score: fits, picks on val, writes the head; eval scores by it to the same test AP', async () => {
    const run = path.join(out, 'task-detection', 'd-tuned');
    const args = ['--from', run, '--out', out, '--backend', 'cpu', '--json', '--hidden', '0,2', '--l2', '1e-3'];
    const { code, stdout } = await capture(() => fitScoreCommand(args));
    expect(code).toBe(0);
    const line = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(Object.keys(line)).toEqual(['checkpoint', 'chosen', 'head', 'val', 'test']);
    expect(line.head).toBe(path.join(run, 'fit-score', 'score-head.json'));
    for (const split of [line.val, line.test])
      expect(Object.keys(split).sort()).toEqual(['confidence', 'fitted', 'likelihood', 'oracle']);
    const record = JSON.parse(readFileSync(path.join(run, 'fit-score', 'fit-score.json'), 'utf8'));
    expect(record.candidates.map((c: { hidden: number }) => c.hidden)).toEqual([0, 2]);
    const best = Math.max(...record.candidates.map((c: { val_AP: number }) => c.val_AP));
    expect(record.candidates.find((c: { hidden: number }) => c.hidden === line.chosen.hidden).val_AP).toBe(best);
    expect(record.train_images).toBe(16);
    const written = JSON.parse(readFileSync(path.join(run, 'fit-score', 'eval', 'metrics.json'), 'utf8'));
    expect([written.split, written.score, written.AP]).toEqual(['test', 'fitted', line.test.fitted]);
    // The head scores the same boxes the same way through `eval`.
    const ev = await capture(() =>
      evalCommand([
        '--from',
        run,
        '--out',
        out,
        '--backend',
        'cpu',
        '--json',
        '--set',
        `eval.scoreHead=${line.head}`,
        '--set',
        'eval.score=fitted',
      ]),
    );
    expect(JSON.parse(ev.stdout.trim()).stats[0]).toBe(line.test.fitted);
    await expect(fitScoreCommand(['--from', run, '--out', out, '--hidden', 'x'])).rejects.toThrow(
      /--hidden x: expected non-negative integers/,
    );
  });
});
