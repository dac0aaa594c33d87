/**
 * `task-<name> demo`: the whole recipe end to end, as one command.
 *
 *   MLE model (the shipped checkpoint, or pretraining) → tuning → both evaluated on the same validation images →
 *   the task's table and comparison page, and with --json one line {preset, seed, wall_s, mle, tuned}.
 *
 * The MLE run `<name>-mle` records where its model came from (demo.json), so that `demo --resume --from` either run
 * continues an interrupted demo where it stopped, with the same preset and the same MLE model.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultRunName, openRunDir, orUsageError, UsageError, type RunDir } from '@reward-tune/core-model';
import type { RunnerConfig } from './adapter';
import { resumedDir, reopenRun } from './commands';
import { parseCommand, type TaskCliOptions } from './flags';
import { logLine } from './log';
import { newRunConfig, resolveCheckpoint, trainedConfig } from './run-config';
import {
  evalImages,
  evalRun,
  Interrupted,
  loadModel,
  openRun,
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

async function newDemo<C extends RunnerConfig, Ev>(
  adapter: AnyAdapter<C, Ev>,
  opts: TaskCliOptions,
): Promise<DemoPlan<C>> {
  const { tool } = adapter;
  const preset = opts.preset ?? adapter.spec.defaultPreset ?? 'tiny';
  const cfg = newRunConfig(adapter, { ...opts, preset });
  await ready(adapter, cfg, opts);
  const name = opts.name ?? defaultRunName(new Date());
  // The shipped checkpoint when it fits this config (checked before any run directory is made), else pretraining.
  const shipped = adapter.shippedCheckpoint(preset);
  const useShipped = !opts.extra['from-scratch'] && existsSync(shipped);
  if (useShipped) {
    if (adapter.modelKey(trainedConfig(adapter, shipped, opts)) !== adapter.modelKey(cfg)) {
      throw new UsageError(`${shipped} was trained with another model/data config than this run's; use --from-scratch`);
    }
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

  // 3. Both through the same evaluation.
  const { model: mle } = loadModel(adapter, cfg, out, mleCheckpoint);
  const mleEv = await evalRun(adapter, cfg, mle, mleRun.dir, out);
  const tunedEv = await evalRun(adapter, cfg, tuned, tunedRun.dir, out);
  mle.dispose();
  tuned.dispose();

  const val = evalImages(adapter, cfg, out);
  const { table, page } = adapter.demoCompare({
    preset,
    cfg,
    val,
    mle: { run: mleRun, ev: mleEv },
    tuned: { run: tunedRun, ev: tunedEv },
  });
  const wall = (Date.now() - t0) / 1000;
  process.stderr.write(
    `\n${table}\n\nvalidation images: ${val.examples.length}; wall time ${wall.toFixed(0)} s\nreport: ${page}\n`,
  );
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ preset, seed: cfg.seed, wall_s: wall, mle: adapter.jsonStats(mleEv), tuned: adapter.jsonStats(tunedEv) })}\n`,
    );
  }
  return 0;
}
