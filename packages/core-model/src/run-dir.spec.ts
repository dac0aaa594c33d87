import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { defaultRunName, openRunDir, readMetrics, readRunConfig, type RunDir } from './run-dir';

const ok = <A>(e: E.Either<string, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left);
  return e.right;
};

describe('run directories', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'cm-runs-'));
  const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 250));
  const now = () => at;
  const config = { lr: 0.001, model: { depth: 2 } };

  it('creates runs/<task>/<name>/ with config.json, an empty metrics.jsonl and checkpoints/', () => {
    const run = ok(openRunDir({ root, task: 'detection', name: 'a', config, now }));
    expect(run.dir).toBe(path.join(root, 'detection', 'a'));
    expect(JSON.parse(readFileSync(run.configPath, 'utf8'))).toEqual(config);
    expect(readFileSync(run.metricsPath, 'utf8')).toBe('');
    expect(statSync(run.checkpointsDir).isDirectory()).toBe(true);
    expect(ok(readRunConfig(run.dir))).toEqual(config);
  });

  it('appends one JSON object per logged step with step, phase and wall time', () => {
    const run = ok(openRunDir({ root, task: 'detection', name: 'metrics', config, now }));
    run.logMetrics(0, 'train', { loss: 2.5, reward_mean: 0.25 });
    run.logMetrics(10, 'eval', { map: 0.125, bad: NaN });
    expect(readFileSync(run.metricsPath, 'utf8')).toBe(
      '{"step":0,"phase":"train","wall_time":1767323045.25,"loss":2.5,"reward_mean":0.25}\n' +
        '{"step":10,"phase":"eval","wall_time":1767323045.25,"map":0.125,"bad":null}\n',
    );
    expect(ok(readMetrics(run.metricsPath)).map((r) => [r.step, r.phase])).toEqual([
      [0, 'train'],
      [10, 'eval'],
    ]);
    expect(() => run.logMetrics(1, 'train', { step: 3 })).toThrow(RangeError);
  });

  it('names a run by its start time by default and avoids taken names', () => {
    expect(defaultRunName(at)).toBe('20260102-030405');
    const a = ok(openRunDir({ root, task: 't', config, now }));
    const b = ok(openRunDir({ root, task: 't', config, now }));
    expect([a.name, b.name]).toEqual(['20260102-030405', '20260102-030405-2']);
  });

  it('refuses to overwrite a different run unless resuming', () => {
    const first = ok(openRunDir({ root, task: 'det', name: 'r', config, now }));
    const dir = first.dir;
    expect(openRunDir({ root, task: 'det', name: 'r', config: { lr: 1 }, now })).toEqual(
      E.left(
        `${dir}: a run already exists here (with a different config); pass --from ${dir} to resume it or choose another --name`,
      ),
    );
    // Same config and nothing logged yet (died at start-up): reopened.
    expect(E.isRight(openRunDir({ root, task: 'det', name: 'r', config, now }))).toBe(true);
    first.logMetrics(1, 'train', { loss: 1 });
    expect(openRunDir({ root, task: 'det', name: 'r', config, now })).toEqual(
      E.left(
        `${dir}: a run already exists here (it has logged metrics); pass --from ${dir} to resume it or choose another --name`,
      ),
    );
    const resumed: RunDir = ok(
      openRunDir({ root, task: 'det', name: 'r', config: { ...config, lr: 0.5 }, resume: true, now }),
    );
    expect(resumed.resumed).toBe(true);
    expect(resumed.previousConfig).toEqual(config);
    expect(ok(readRunConfig(dir))).toEqual({ ...config, lr: 0.5 });
    resumed.logMetrics(2, 'train', { loss: 0.5 });
    expect(ok(readMetrics(resumed.metricsPath)).map((r) => r.step)).toEqual([1, 2]);
  });

  it('refuses directories that are not runs, bad names, and resuming nothing', () => {
    const other = path.join(root, 'det', 'photos');
    mkdirSync(other, { recursive: true });
    writeFileSync(path.join(other, 'x.jpg'), '');
    expect(openRunDir({ root, task: 'det', name: 'photos', config })).toEqual(
      E.left(`${other}: exists and is not a run directory (no config.json); choose another --name`),
    );
    expect(openRunDir({ root, task: 'det', name: 'none', config, resume: true })).toEqual(
      E.left(`${path.join(root, 'det', 'none')}: cannot resume: not a run directory (no config.json)`),
    );
    expect(openRunDir({ root, task: 'det', name: '../x', config })).toEqual(
      E.left('--name ../x: not a plain directory name'),
    );
  });

  it('writes report files atomically inside the run only', () => {
    const run = ok(openRunDir({ root, task: 'det', name: 'files', config }));
    const p = run.writeFile('samples/step-10.txt', 'hello');
    expect(readFileSync(p, 'utf8')).toBe('hello');
    expect(existsSync(`${p}.tmp-${process.pid}`)).toBe(false);
    expect(() => run.writeFile('../escape.txt', 'x')).toThrow(RangeError);
  });

  it('names the line of a malformed metrics file', () => {
    const f = path.join(root, 'm.jsonl');
    writeFileSync(f, '{"step":1,"phase":"train","wall_time":1}\n{"step":\n');
    expect(readMetrics(f)).toEqual(E.left(`${f}: line 2: malformed JSON`));
  });
});
