// UViM through the task runner, on the toy blocks (a `mu` oracle and a `mu/8` stage II model): `pretrain-oracle`
// writes stage I checkpoints that load as a frozen oracle (and resumes bit for bit), stage II `pretrain`, `tune` and
// `eval` run over it and record it (oracle.json, checkpoint metadata), a stage II checkpoint or run is refused with
// another oracle, and config errors are one line naming the field.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { latestCheckpoint, loadCheckpoint, loadOracle, UsageError } from '@reward-tune/core-model';
import { parseMetricsJsonl } from '../report';
import { blockAdapter } from '../testing/uvim-toys';
import { taskRunner } from './index';
import { ORACLE_RECORD } from './oracle';

const runner = taskRunner(blockAdapter);
let out: string;
let stdout: string[];

beforeAll(() => {
  out = mkdtempSync(path.join(tmpdir(), 'uvim-runner-'));
});
afterAll(() => rmSync(out, { recursive: true, force: true }));
beforeEach(() => {
  stdout = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((s) => (stdout.push(String(s)), true));
  jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => jest.restoreAllMocks());

const common = (name: string) => ['--preset', 'mu', '--out', out, '--name', name, '--backend', 'wasm'];
const run = (name: string) => path.join(out, 'task-blocks', name);
const lastJson = () => JSON.parse(stdout.filter((l) => l.startsWith('{')).at(-1)!) as Record<string, unknown>;

describe('UViM through the task runner', () => {
  it('pretrain-oracle → stage II pretrain → tune → eval, the oracle recorded and checked along the way', async () => {
    // Stage I.
    expect(await runner.pretrainOracleCommand([...common('o1'), '--json'])).toBe(0);
    const o1 = lastJson();
    expect(o1.run).toBe(run('o1'));
    expect(o1.checkpoint).toBe(latestCheckpoint(path.join(run('o1'), 'checkpoints')));
    for (const k of ['loss', 'perplexity', 'unusedFraction', 'maxShare']) expect(o1[k]).toEqual(expect.any(Number));
    const oracle = loadOracle(o1.checkpoint as string);
    if (E.isLeft(oracle)) throw new Error(oracle.left);
    expect(oracle.right.cfg).toMatchObject({ codeLen: 4, dictSize: 16, momentum: 0.9 });
    expect(oracle.right.step).toBe(6);
    const records = parseMetricsJsonl(readFileSync(path.join(run('o1'), 'metrics.jsonl'), 'utf8'));
    const evals = E.isRight(records) ? records.right.filter((r) => r.kind === 'eval') : [];
    expect(evals.map((r) => [r.phase, r.step])).toEqual([
      ['oracle', 3],
      ['oracle', 6],
    ]);
    expect(readFileSync(path.join(run('o1'), 'report.html'), 'utf8')).toContain('Stage I oracle');

    // Stage II over it: the run and its checkpoints record the oracle.
    const over = (dir: string) => ['--set', `oracle.checkpoint=${dir}`];
    expect(await runner.pretrainCommand([...common('s2'), ...over(run('o1'))])).toBe(0);
    const ref = JSON.parse(readFileSync(path.join(run('s2'), ORACLE_RECORD), 'utf8'));
    expect(ref).toEqual({ checkpoint: o1.checkpoint, sha256: oracle.right.sha256 });
    const s2 = latestCheckpoint(path.join(run('s2'), 'checkpoints'))!;
    const meta = loadCheckpoint(s2);
    expect(E.isRight(meta) && JSON.parse(meta.right.extra.oracle)).toEqual(ref);

    // Tuning and evaluation from it (the config, oracle included, comes from the checkpoint).
    expect(await runner.tuneCommand(['--from', run('s2'), '--out', out, '--name', 't1', '--backend', 'wasm'])).toBe(0);
    expect(JSON.parse(readFileSync(path.join(run('t1'), ORACLE_RECORD), 'utf8'))).toEqual(ref);
    expect(await runner.evalCommand(['--from', run('t1'), '--out', out, '--backend', 'wasm', '--json'])).toBe(0);
    expect(lastJson().accuracy).toEqual(expect.any(Number));

    // Another oracle (another seed): the stage II checkpoint and the tuning run refuse it, one line each.
    expect(await runner.pretrainOracleCommand([...common('o2'), '--seed', '5', '--set', 'oracle.steps=3'])).toBe(0);
    const other = ['--out', out, '--backend', 'wasm', ...over(run('o2'))];
    const refusal =
      /was trained over the oracle .*\(sha256 [0-9a-f]{12}\), but oracle\.checkpoint is .*o2.*: give the oracle it was trained with$/;
    await expect(runner.evalCommand(['--from', s2, ...other])).rejects.toThrow(refusal);
    await expect(runner.evalCommand(['--from', s2, ...other])).rejects.toThrow(UsageError);
    await expect(runner.tuneCommand(['--from', s2, '--name', 't2', ...other])).rejects.toThrow(refusal);
    expect(existsSync(run('t2'))).toBe(false); // refused before any run directory is made
    await expect(runner.tuneCommand(['--resume', '--from', run('t1'), ...other])).rejects.toThrow(UsageError);
  }, 120_000);

  it('pretrain-oracle --resume continues a run to the same checkpoint as an uninterrupted one', async () => {
    expect(await runner.pretrainOracleCommand([...common('whole')])).toBe(0);
    expect(await runner.pretrainOracleCommand([...common('part'), '--set', 'oracle.steps=3'])).toBe(0);
    const resume = ['--resume', '--from', run('part'), '--backend', 'wasm', '--set', 'oracle.steps=6'];
    expect(await runner.pretrainOracleCommand(resume)).toBe(0);
    const [a, b] = ['whole', 'part'].map((n) => loadCheckpoint(latestCheckpoint(path.join(run(n), 'checkpoints'))!));
    if (E.isLeft(a) || E.isLeft(b)) throw new Error('unreadable checkpoint');
    expect(b.right.step).toBe(6);
    // It did continue from update 3 (a fresh start would also end where the whole run does).
    const events = E.getOrElseW(() => [])(
      parseMetricsJsonl(readFileSync(path.join(run('part'), 'metrics.jsonl'), 'utf8')),
    ).filter((r) => r.kind === 'event');
    expect(events.map((r) => [(r as { event: string }).event, r.step])).toEqual([
      ['start', 0],
      ['done', 3],
      ['resumed', 3],
      ['done', 6],
    ]);
    expect(b.right.rngState).toEqual(a.right.rngState);
    for (const [name, t] of [...a.right.params, ...a.right.optimizer!.tensors])
      expect([name, (b.right.params.get(name) ?? b.right.optimizer!.tensors.get(name))!.data]).toEqual([name, t.data]);
  });

  it('config errors are one line naming the field, before any run directory', async () => {
    const refused = async (args: string[], message: RegExp) => {
      const e = await runner.pretrainCommand([...common('bad'), ...args]).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(UsageError);
      expect((e as Error).message).toMatch(message);
      expect((e as Error).message.split('\n')).toHaveLength(1);
    };
    await refused(['--set', 'oracle.model.codeLen=3'], /oracle\.model\.codeLen: 3 is not a perfect square/);
    await refused(['--set', 'oracle.model.dictSize=1'], /oracle\.model\.dictSize: must be at least 2, got 1/);
    await refused(['--set', 'tune.estimator=rtg'], /tune\.estimator: estimator 'rtg' needs a reward that splits/);
    await refused([], /^stage II needs a trained oracle: set oracle\.checkpoint to a stage I checkpoint or run/);
    await refused(['--set', `oracle.checkpoint=${path.join(out, 'nope')}`], /^oracle\.checkpoint .*nope: no such file/);
    await expect(runner.pretrainOracleCommand([...common('bad2'), '--set', 'oracle.model.codeLen=3'])).rejects.toThrow(
      /oracle\.model\.codeLen: 3 is not a perfect square/,
    );
    expect(existsSync(run('bad'))).toBe(false);
    expect(existsSync(run('bad2'))).toBe(false);
  });
});
