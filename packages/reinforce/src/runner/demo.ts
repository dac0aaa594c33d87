/**
 * `task-<name> demo`: the whole recipe end to end, as one command.
 *
 *   MLE model (the shipped checkpoint, or pretraining) → tuning → both evaluated on the same test images, and on the
 *   same validation images → the task's table and comparison page, and with --json one line
 *   {preset, seed, wall_s, mle, tuned, val: {mle, tuned}} (mle and tuned: the test split's numbers).
 *
 * The MLE run `<name>-mle` records where its model came from (demo.json), so that `demo --resume --from` either run
 * continues an interrupted demo where it stopped, with the same preset and the same MLE model.
 *
 * UViM tasks (TaskAdapter.oracle) run stage I first: the oracle is `oracle.checkpoint` when --set gives one, else the
 * preset's shipped oracle (OracleHooks.shipped), else (or with --from-scratch) `pretrain-oracle` into the run
 * `<name>-oracle`; the MLE model (stage II) is then the shipped one only over the shipped oracle (checked against
 * the oracle it records before any run directory is made), else pretrained here. A UViM task keeps its stage I
 * section at the config key `oracle`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultRunName, openRunDir, orUsageError, UsageError, type RunDir } from '@reward-tune/core-model';
import type { DemoResults, RunnerConfig } from './adapter';
import { resumedDir, reopenRun } from './commands';
import { parseCommand, type TaskCliOptions } from './flags';
import { logLine } from './log';
import { checkStageTwoCheckpoint } from './oracle';
import { newRunConfig, resolveCheckpoint, trainedConfig } from './run-config';
import {
  evalImages,
  evalRun,
  Interrupted,
  loadModel,
  openRun,
  pretrainOracleRun,
  pretrainRun,
  ready,
  tuneRun,
  writeRunReport,
  type AnyAdapter,
} from './training';

/** The file in a demo's MLE run that says where its MLE model came from and its preset (for `demo --resume`). */
export const DEMO_RECORD = 'demo.json';

/** What DEMO_RECORD holds: `mle` is the checkpoint the demo took (the shipped one), or 'pretrain'. */
interface DemoRecord {
  readonly preset: string;
  readonly mle: string;
}

function readDemoRecord(file: string): DemoRecord {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const r = (value ?? {}) as Record<string, unknown>;
  for (const field of ['preset', 'mle'] as const) {
    if (typeof r[field] !== 'string' || r[field] === '')
      throw new UsageError(`${file}: ${field}: expected a non-empty string`);
  }
  return { preset: r.preset as string, mle: r.mle as string };
}

/** A demo's two runs and where its MLE model comes from, fresh (demo) or reopened (demo --resume). */
interface DemoPlan<C> {
  readonly cfg: C;
  readonly preset: string;
  /** The --out root of the demo's runs and data. */
  readonly out: string;
  readonly mleRun: RunDir;
  /** The MLE model: a checkpoint (the shipped one) or pretraining into mleRun. */
  readonly mle: string | 'pretrain';
  /** Opens the tuning run (reopens it when an earlier leg of the demo made it). */
  tunedRun(): RunDir;
}

/**
 * UViM tasks: the demo's stage I oracle, as options whose --set names it (`oracle.checkpoint`): the one --set gives,
 * the preset's shipped one (not with --from-scratch), or one trained here into `<name>-oracle`. `trained` says
 * whether it was trained here (then the shipped stage II model does not fit it).
 */
async function demoStageOne<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  opts: TaskCliOptions,
  preset: string,
  name: string,
): Promise<{ readonly opts: TaskCliOptions; readonly trained: boolean }> {
  const hooks = adapter.oracle;
  if (hooks === undefined) return { opts, trained: false };
  const cfg = newRunConfig(adapter, { ...opts, preset });
  if (hooks.section(cfg).checkpoint !== undefined) return { opts, trained: false };
  const withOracle = (file: string): TaskCliOptions => ({
    ...opts,
    sets: [...opts.sets, `oracle.checkpoint=${JSON.stringify(path.resolve(file))}`],
  });
  const shipped = hooks.shipped?.(preset);
  if (!opts.extra['from-scratch'] && shipped !== undefined && existsSync(shipped)) {
    logLine(`${adapter.tool} demo: stage I oracle from the shipped checkpoint ${shipped}`);
    return { opts: withOracle(shipped), trained: false };
  }
  const steps = hooks.section(cfg).steps;
  if (!opts.extra['from-scratch'])
    logLine(`${adapter.tool} demo: no shipped oracle for preset '${preset}'; training it here (${steps} steps)`);
  await ready(adapter, cfg, opts, 'I');
  const run = openRun(adapter, opts, cfg, `${name}-oracle`);
  const r = await pretrainOracleRun(adapter, cfg, run, opts.out);
  await writeRunReport(run);
  return { opts: withOracle(r.checkpoint), trained: true };
}

async function newDemo<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  cliOpts: TaskCliOptions,
): Promise<DemoPlan<C>> {
  const { tool } = adapter;
  const preset = cliOpts.preset ?? adapter.spec.defaultPreset ?? 'tiny';
  const name = cliOpts.name ?? defaultRunName(new Date());
  const { opts, trained: oracleTrained } = await demoStageOne(adapter, cliOpts, preset, name);
  const cfg = newRunConfig(adapter, { ...opts, preset });
  await ready(adapter, cfg, opts);
  // The shipped checkpoint when it fits this config (checked before any run directory is made), else pretraining.
  const shipped = adapter.shippedCheckpoint(preset);
  const useShipped = !opts.extra['from-scratch'] && !oracleTrained && existsSync(shipped);
  if (useShipped) {
    if (adapter.modelKey(trainedConfig(adapter, shipped, opts)) !== adapter.modelKey(cfg)) {
      throw new UsageError(`${shipped} was trained with another model/data config than this run's; use --from-scratch`);
    }
    checkStageTwoCheckpoint(adapter, cfg, shipped);
    logLine(`${tool} demo: MLE model from the shipped checkpoint ${shipped}`);
  } else if (!opts.extra['from-scratch']) {
    logLine(
      `${tool} demo: no shipped MLE checkpoint for preset '${preset}'; pretraining it here (${cfg.mle.steps} steps)`,
    );
  }
  const mleRun = openRun(adapter, opts, cfg, `${name}-mle`);
  const record: DemoRecord = { preset, mle: useShipped ? path.resolve(shipped) : 'pretrain' };
  mleRun.writeFile(DEMO_RECORD, `${JSON.stringify(record, null, 2)}\n`);
  return {
    cfg,
    preset,
    out: opts.out,
    mleRun,
    mle: record.mle,
    tunedRun: () => openRun(adapter, opts, cfg, `${name}-tuned`),
  };
}

/** `demo --resume --from <name>-mle | <name>-tuned`: the demo's runs reopened, with their saved config (then --set). */
async function resumedDemo<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  opts: TaskCliOptions,
): Promise<DemoPlan<C>> {
  if (opts.extra['from-scratch']) throw new UsageError('--resume continues a demo as it began; drop --from-scratch');
  const from = resumedDir(opts);
  const base = /^(.+)-(mle|tuned)$/.exec(path.basename(from))?.[1];
  const mleDir = path.join(path.dirname(from), `${base}-mle`);
  const recordPath = path.join(mleDir, DEMO_RECORD);
  if (base === undefined || !existsSync(recordPath))
    throw new UsageError(`--from ${opts.from}: not a demo run (no ${path.join(`<name>-mle`, DEMO_RECORD)} beside it)`);
  const record = readDemoRecord(recordPath);
  if (record.mle !== 'pretrain' && !existsSync(record.mle))
    throw new UsageError(`${recordPath}: mle: the MLE checkpoint ${record.mle} is gone`);
  // The runs and the data of a demo share one --out root: <out>/<tool>/<name>-mle.
  const out = path.dirname(path.dirname(mleDir));
  const { cfg, run: mleRun } = await reopenRun(adapter, { ...opts, out }, mleDir);
  const tunedName = `${base}-tuned`;
  const made = existsSync(path.join(out, adapter.tool, tunedName, 'config.json'));
  return {
    cfg,
    preset: record.preset,
    out,
    mleRun,
    mle: record.mle,
    tunedRun: () =>
      orUsageError(openRunDir({ root: out, task: adapter.tool, name: tunedName, config: cfg, resume: made })),
  };
}

export async function demoCommand<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  args: readonly string[],
): Promise<number> {
  const opts = parseCommand(args, {
    extra: {
      'from-scratch': {
        type: 'boolean',
        description: 'pretrain the MLE model here instead of taking the shipped checkpoint',
      },
      resume: {
        type: 'boolean',
        description: 'continue the demo whose -mle or -tuned run --from gives (an interrupted one, say)',
      },
    },
  });
  if (!opts) return 0;
  const t0 = Date.now();
  const {
    cfg,
    preset,
    out,
    mleRun,
    mle: mleFrom,
    tunedRun: openTuned,
  } = opts.extra.resume ? await resumedDemo(adapter, opts) : await newDemo(adapter, opts);
  // Ctrl-C in either stage: the whole demo is what goes on.
  const demoHint = (e: unknown): never => {
    if (e instanceof Interrupted)
      throw new Interrupted(
        `interrupted; a checkpoint was saved (continue with: ${adapter.tool} demo --resume --from ${mleRun.dir})`,
      );
    throw e;
  };

  // 1. The MLE model (pretraining resumes from its latest checkpoint; a finished one only reloads).
  let mleCheckpoint = mleFrom;
  if (mleFrom === 'pretrain') {
    (await pretrainRun(adapter, cfg, mleRun, out).catch(demoHint)).dispose();
    await writeRunReport(mleRun);
    mleCheckpoint = resolveCheckpoint(mleRun.dir);
  }

  // 2. Reward tuning from it (likewise resumed).
  const tunedRun = openTuned();
  const tuned = await tuneRun(adapter, cfg, tunedRun, out, mleCheckpoint).catch(demoHint);
  await writeRunReport(tunedRun);

  // 3. Both through the same evaluation: on val (where the recipe was chosen; artefacts in <run>/val/eval/), then on
  // test (the headline; <run>/eval/). Greedy decoding draws no random numbers, so the val numbers are those a demo
  // reported before the test split existed.
  const { model: mle } = loadModel(adapter, cfg, out, mleCheckpoint);
  const valMle = await evalRun(adapter, cfg, mle, path.join(mleRun.dir, 'val'), out, 'val');
  const valTuned = await evalRun(adapter, cfg, tuned, path.join(tunedRun.dir, 'val'), out, 'val');
  const mleEv = await evalRun(adapter, cfg, mle, mleRun.dir, out, 'test');
  const tunedEv = await evalRun(adapter, cfg, tuned, tunedRun.dir, out, 'test');
  mle.dispose();
  tuned.dispose();

  const test = evalImages(adapter, cfg, out, 'test');
  const val = evalImages(adapter, cfg, out, 'val');
  const results: DemoResults<C, unknown, Ev> = {
    preset,
    cfg,
    split: 'test',
    images: test,
    mle: { run: mleRun, ev: mleEv },
    tuned: { run: tunedRun, ev: tunedEv },
    val: { images: val, mle: valMle, tuned: valTuned },
  };
  const { table, page } = adapter.demoCompare(results);
  const wall = (Date.now() - t0) / 1000;
  process.stderr.write(
    `\n${table}\n\ntest images: ${test.examples.length}, validation images: ${val.examples.length}; ` +
      `wall time ${wall.toFixed(0)} s\nreport: ${page}\n`,
  );
  if (opts.json) {
    const stats = (ev: Ev) => adapter.jsonStats(ev);
    const line = {
      preset,
      seed: cfg.seed,
      wall_s: wall,
      ...(adapter.demoJson?.(results) ?? {}),
      mle: stats(mleEv),
      tuned: stats(tunedEv),
      val: { mle: stats(valMle), tuned: stats(valTuned) },
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
  return 0;
}
