/**
 * The two commands a task CLI gets from this package, on top of reinforce's task runner:
 *
 *   <task> tune --actors <redis url> [--staleness S] [--run NAME] [--clip C] [--importance sequence|token]
 *       [--lock-ms MS] [tune's flags]
 *       the learner: reinforce's `tune` command (from an MLE run, or --resume) with its samples drawn by actors;
 *       tune.seedDerivation is set to 'per-job'. Without --actors, reinforce's `tune` as it is.
 *   <task> actor --redis <redis url> --run NAME [--id ID] [--verbose] [--backend B] [--out DIR]
 *       an actor of the run: its task and data set up from the run's config, as the learner's.
 *
 * The learner's run name is the run directory's name unless --run gives one; it prints the actor command to start.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { initBackend, UsageError } from '@reward-tune/core-model';
import {
  IMPORTANCE_PER,
  logLine,
  parseCommand,
  taskRunner,
  type RunnerConfig,
  type TaskAdapter,
  type TuneLoop,
} from '@reward-tune/reinforce';
import { runActor } from './actor';
import { runLearner, type Throughput } from './learner';
import { runNameSchema } from './messages';

export interface DistributedCommands {
  /** reinforce's `tune`, or with --actors the learner of a distributed run. */
  tuneCommand(args: readonly string[]): Promise<number>;
  /** An actor of a distributed run. */
  actorCommand(args: readonly string[]): Promise<number>;
}

/** `tune` (with --actors) and `actor` for a task's adapter; see the file comment. */
export function distributedCommands<C extends RunnerConfig, E, P, A, Ev>(
  adapter: TaskAdapter<C, E, P, A, Ev>,
): DistributedCommands {
  return {
    tuneCommand: (args) => tuneCommand(adapter, args),
    actorCommand: (args) => actorCommand(adapter, args),
  };
}

const LEARNER_FLAGS = {
  actors: 'Redis URL of a distributed run: the actors sample, this process learns',
  staleness: 'S: update k samples with the weights of update k − S (default 0; 1 overlaps sampling and updates)',
  run: 'name of the run in Redis, for the actors (default: the run directory name)',
  clip: 'c of the truncated importance weight min(c, π/μ) when S ≥ 1 (default 2)',
  importance: 'that weight per sampled sequence or per token: sequence|token (default sequence)',
  'lock-ms': "how long a silent actor's job stays taken before it is redone (default 30000)",
} as const;
type LearnerFlag = keyof typeof LEARNER_FLAGS;

/** This package's flags out of `args` (each takes a value, `--flag v` or `--flag=v`), and the rest for `tune`. */
export function splitLearnerFlags(args: readonly string[]): {
  own: Partial<Record<LearnerFlag, string>>;
  rest: string[];
} {
  const own: Partial<Record<LearnerFlag, string>> = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(args[i]);
    if (m === null || !(m[1] in LEARNER_FLAGS)) {
      rest.push(args[i]);
      continue;
    }
    const value = m[2] ?? args[++i];
    if (value === undefined) throw new UsageError(`--${m[1]}: expects a value`);
    own[m[1] as LearnerFlag] = value;
  }
  return { own, rest };
}

function integer(flag: string, text: string, min: number): number {
  const v = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(v) || v < min)
    throw new UsageError(`--${flag} ${text}: expected an integer ≥ ${min}`);
  return v;
}

/** The run's distributed settings, kept in its directory so that a resumed run keeps them. */
const SETTINGS = 'distributed.json';

async function tuneCommand<C extends RunnerConfig, E, P, A, Ev>(
  adapter: TaskAdapter<C, E, P, A, Ev>,
  args: readonly string[],
): Promise<number> {
  const runner = taskRunner(adapter);
  const { own, rest } = splitLearnerFlags(args);
  if (rest.includes('--help') || rest.includes('-h')) {
    const code = await runner.tuneCommand(rest);
    const flags = Object.entries(LEARNER_FLAGS).map(([k, d]) => `  --${`${k} <value>`.padEnd(18)}  ${d}`);
    process.stdout.write(`distributed tuning (@reward-tune/distributed):\n${flags.join('\n')}\n`);
    return code;
  }
  if (own.actors === undefined) {
    const stray = Object.keys(own)[0];
    if (stray !== undefined) throw new UsageError(`--${stray} needs --actors <redis url>`);
    return runner.tuneCommand(rest);
  }
  const url = own.actors;
  const staleness = integer('staleness', own.staleness ?? '0', 0);
  const lockMs = integer('lock-ms', own['lock-ms'] ?? '30000', 1);
  const clip = Number(own.clip ?? '2');
  if (!(clip > 0)) throw new UsageError(`--clip ${own.clip}: expected a positive number`);
  const importance = importanceFlag(own.importance);
  if (own.run !== undefined && !runNameSchema.safeParse(own.run).success) {
    throw new UsageError(`--run ${own.run}: a run name is 1–100 letters, digits, dots, dashes or underscores`);
  }

  const loop: TuneLoop = async (opts, ctx) => {
    const settingsFile = path.join(ctx.run.dir, SETTINGS);
    const saved = existsSync(settingsFile)
      ? (JSON.parse(readFileSync(settingsFile, 'utf8')) as { run?: string; staleness?: number })
      : {};
    if (ctx.run.resumed && saved.staleness !== undefined && saved.staleness !== staleness) {
      throw new UsageError(`--staleness ${staleness}: this run was started with staleness ${saved.staleness}`);
    }
    const run =
      own.run ??
      saved.run ??
      path
        .basename(ctx.run.dir)
        .replace(/[^A-Za-z0-9._-]/g, '-')
        .slice(0, 100);
    ctx.run.writeFile(SETTINGS, `${JSON.stringify({ run, staleness, clip, importance }, null, 2)}\n`);
    logLine(`${adapter.tool} tune: learner of run ${run} (staleness ${staleness}); start actors with:`);
    logLine(`  ${adapter.tool} actor --redis ${url} --run ${run}`);
    const result = await runLearner({
      ...opts,
      redisUrl: url,
      run,
      tool: adapter.tool,
      taskConfig: ctx.cfg,
      table: ctx.setup.images('train', 0),
      staleness,
      clip,
      importancePer: importance,
      lockMs,
      fresh: !ctx.run.resumed,
      mirrorDir: path.join(ctx.run.dir, 'stale-weights'),
      notice: (line) => logLine(`${adapter.tool} tune: ${line}`),
    });
    ctx.run.writeFile('throughput.json', `${JSON.stringify(result.throughput, null, 2)}\n`);
    logLine(`${adapter.tool} tune: ${throughputLine(result.throughput)}`);
    return result;
  };
  return runner.tuneCommandWith([...rest, '--set', 'tune.seedDerivation=per-job'], loop);
}

/** `--importance` (absent: `sequence`), the values `tune.sampler.importance` takes; a UsageError for others. */
export function importanceFlag(text = 'sequence'): (typeof IMPORTANCE_PER)[number] {
  const value = IMPORTANCE_PER.find((v) => v === text);
  if (value === undefined) throw new UsageError(`--importance ${text}: expected ${IMPORTANCE_PER.join(' or ')}`);
  return value;
}

/** The throughput report as one line. */
export function throughputLine(t: Throughput): string {
  const actors = Object.entries(t.actors).map(([id, a]) => `${id} ${a.rolloutsPerSec.toFixed(1)}/s (${a.jobs} jobs)`);
  return (
    `${t.updates} updates at ${t.updatesPerSec.toFixed(3)}/s, learner idle ${(100 * t.idleShare).toFixed(1)} %, ` +
    `staleness ${t.staleness}, mean queue depth ${t.meanQueueDepth.toFixed(1)}; rollouts/s ${t.rolloutsPerSec.toFixed(1)}` +
    (actors.length > 0 ? ` (${actors.join(', ')})` : '')
  );
}

async function actorCommand<C extends RunnerConfig, E, P, A, Ev>(
  adapter: TaskAdapter<C, E, P, A, Ev>,
  args: readonly string[],
): Promise<number> {
  const opts = parseCommand(args, {
    extra: {
      redis: { type: 'string', description: "Redis URL of the learner's run (required)" },
      run: { type: 'string', description: 'name of the run (required; the learner prints it)' },
      id: { type: 'string', description: "this actor's name in the throughput report (default host:pid)" },
      verbose: { type: 'boolean', description: 'a line per job' },
    },
  });
  if (!opts) return 0;
  const url = opts.extra.redis as string | undefined;
  const run = opts.extra.run as string | undefined;
  if (url === undefined) throw new UsageError('actor needs --redis <redis url>');
  if (run === undefined) throw new UsageError('actor needs --run <name> (the learner prints it)');
  await initBackend(opts.backend);
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(130);
    logLine(`${adapter.tool} actor: stopping after this job — press Ctrl-C again to quit now`);
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const r = await runActor({
      redisUrl: url,
      run,
      tool: adapter.tool,
      id: opts.extra.id as string | undefined,
      signal: abort.signal,
      log: (line) => (opts.extra.verbose || !/^(start|done) /.test(line)) && logLine(`${adapter.tool} actor: ${line}`),
      setup: (meta) => {
        const cfg = meta.config as C;
        const setup = adapter.setUp(cfg, opts.out);
        const model = setup.buildModel(cfg.seed);
        return { task: setup.task, table: setup.images('train', 0), policy: setup.prepareTuning?.(model) ?? model };
      },
    });
    logLine(`${adapter.tool} actor: stopped (${r.stopped}) after ${r.jobs} jobs`);
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
