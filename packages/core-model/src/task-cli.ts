/**
 * The options every task CLI command shares (`task-detection tune --preset tiny --set lr=1e-4 ...`), parsed in
 * one place so that all tasks spell and check them the same way. A bad flag is a `UsageError` (exit code 2
 * through `runCli`), one line naming the flag.
 *
 *   --preset <name>      config preset (mu, tiny, b16, ...)
 *   --data <path>        dataset (annotation file or folder); absent: the task's synthetic data
 *   --out <dir>          root of run directories (default runs)
 *   --name <name>        run name (default: the start time)
 *   --backend <b>        auto | tensorflow | webgpu | wasm | cpu (default auto)
 *   --seed <n>           integer in [0, 2^32)
 *   --set key=value      config override on a dotted path (repeatable)
 *   --json               machine-readable output on stdout
 *   --from <path>        a run directory (resume / start from its config and checkpoints) or a checkpoint file
 *   --help, -h
 */
import { BACKEND_CHOICES, type BackendChoice } from './backend';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import type { z } from 'zod';
import { UsageError } from './command-line';
import { resolveConfig, type ConfigSpec } from './config';
import { openRunDir, readRunConfig, type RunDir } from './run-dir';


/** A task-specific option on top of the shared ones. */
export interface ExtraOption {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly short?: string;
  readonly description: string;
}

export interface TaskCliOptions {
  readonly preset?: string;
  readonly data?: string;
  readonly out: string;
  readonly name?: string;
  readonly backend: BackendChoice;
  readonly seed?: number;
  readonly sets: readonly string[];
  readonly json: boolean;
  readonly from?: string;
  readonly help: boolean;
  readonly positionals: readonly string[];
  /** Values of the command's extra options, by name. */
  readonly extra: Readonly<Record<string, string | boolean | string[] | undefined>>;
}

export interface TaskCliSpec {
  readonly extra?: Readonly<Record<string, ExtraOption>>;
  /** Whether bare arguments are allowed (default false). */
  readonly positionals?: boolean;
}

const SHARED = {
  preset: { type: 'string', description: 'config preset' },
  data: { type: 'string', description: 'dataset path (absent: synthetic data)' },
  out: { type: 'string', description: 'root of run directories (default runs)' },
  name: { type: 'string', description: 'run name (default: the start time)' },
  backend: { type: 'string', description: `${BACKEND_CHOICES.join(' | ')} (default auto)` },
  seed: { type: 'string', description: 'random seed, an integer in [0, 2^32)' },
  set: { type: 'string', multiple: true, description: 'config override key.path=value (repeatable)' },
  json: { type: 'boolean', description: 'machine-readable output' },
  from: { type: 'string', description: 'run directory or checkpoint to start from' },
  help: { type: 'boolean', short: 'h', description: 'this help' },
} as const satisfies Record<string, ExtraOption>;

/** The option lines of a command's help text. */
export function taskOptionsHelp(spec: TaskCliSpec = {}): string {
  const all: [string, ExtraOption][] = [...Object.entries(SHARED), ...Object.entries(spec.extra ?? {})];
  const flag = ([n, o]: [string, ExtraOption]) => `--${n}${o.type === 'string' ? ' <value>' : ''}`;
  const width = Math.max(...all.map((e) => flag(e).length));
  return all.map((e) => `  ${flag(e).padEnd(width)}  ${e[1].description}`).join('\n');
}

function usageMessage(err: unknown): string {
  const e = err as { code?: string; message: string };
  const option = /'(-{1,2}[^' <]+)/.exec(e.message)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option ?? ''} (see --help)`.replace('  ', ' ');
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/argument missing/.test(e.message)) return `${option}: expects a value`;
      if (/ambiguous/.test(e.message)) return `${option}: a value starting with '-' must be written ${option}=<value>`;
      return /does not take an argument/.test(e.message) ? `${option}: takes no value` : e.message.split('\n')[0];
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${/Unexpected argument '([^']*)'/.exec(e.message)?.[1] ?? ''}'`;
    default:
      return e.message;
  }
}

export function parseTaskArgs(args: readonly string[], spec: TaskCliSpec = {}): TaskCliOptions {
  const extra = spec.extra ?? {};
  for (const k of Object.keys(extra)) {
    if (k in SHARED) throw new RangeError(`parseTaskArgs: extra option --${k} clashes with a shared one`);
  }
  const all: [string, ExtraOption][] = [...Object.entries(SHARED), ...Object.entries(extra)];
  const options = Object.fromEntries(
    all.map(([k, o]) => [k, { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) }]),
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: spec.positionals ?? false });
  } catch (err) {
    if (!String((err as { code?: string }).code).startsWith('ERR_PARSE_ARGS')) throw err;
    throw new UsageError(usageMessage(err));
  }
  const v = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const str = (k: string): string | undefined => v[k] as string | undefined;

  const backend = str('backend') ?? 'auto';
  if (!(BACKEND_CHOICES as readonly string[]).includes(backend)) {
    throw new UsageError(`--backend ${backend}: expected one of ${BACKEND_CHOICES.join(', ')}`);
  }
  let seed: number | undefined;
  const seedText = str('seed');
  if (seedText !== undefined) {
    seed = /^\d+$/.test(seedText) ? Number(seedText) : NaN;
    if (!Number.isSafeInteger(seed) || seed > 0xffffffff) throw new UsageError(`--seed ${seedText}: expected an integer in [0, 4294967295]`);
  }
  for (const s of (v.set as string[] | undefined) ?? []) {
    if (s.indexOf('=') <= 0) throw new UsageError(`--set ${s}: expected key=value`);
  }
  const from = str('from');
  if (from !== undefined && !existsSync(from)) throw new UsageError(`--from ${from}: no such file or directory`);
  for (const k of ['preset', 'data', 'out', 'name'] as const) {
    if (str(k) === '') throw new UsageError(`--${k}: expects a non-empty value`);
  }

  return {
    preset: str('preset'),
    data: str('data'),
    out: str('out') ?? 'runs',
    name: str('name'),
    backend: backend as BackendChoice,
    seed,
    sets: (v.set as string[] | undefined) ?? [],
    json: v.json === true,
    from,
    help: v.help === true,
    positionals: parsed.positionals,
    extra: Object.fromEntries(Object.keys(extra).map((k) => [k, v[k]])),
  };
}

/** What `--from` points at: a run directory (it has config.json) or anything else, taken as a checkpoint. */
export type FromTarget = { readonly kind: 'run'; readonly dir: string; readonly configPath: string } | { readonly kind: 'checkpoint'; readonly path: string };

export function classifyFrom(from: string): FromTarget {
  const configPath = path.join(from, 'config.json');
  if (statSync(from).isDirectory() && existsSync(configPath)) return { kind: 'run', dir: from, configPath };
  return { kind: 'checkpoint', path: from };
}

export interface TaskRun<C> {
  readonly config: C;
  readonly run: RunDir;
}

/**
 * The start of every pretrain/tune command: resolve the config (preset or, when resuming, the run's saved
 * config.json, then the --set overrides) and open the run directory. With `resume`, `--from` must be a run
 * directory of this task, which is reopened; otherwise a fresh run is made under `--out` (and `--from`, if any,
 * is left to the caller, e.g. to load a pretrained checkpoint).
 */
export function openTaskRun<S extends z.ZodType>(
  task: string,
  spec: ConfigSpec<S>,
  options: TaskCliOptions,
  resume = false,
): E.Either<string, TaskRun<z.output<S>>> {
  if (resume) {
    if (options.from === undefined) return E.left('resuming needs --from <run directory>');
    if (options.preset !== undefined) return E.left(`--preset ${options.preset}: a resumed run keeps its saved config (change it with --set)`);
    const from = classifyFrom(options.from);
    if (from.kind !== 'run') return E.left(`--from ${options.from}: not a run directory (no config.json)`);
    const dir = path.resolve(from.dir);
    if (path.basename(path.dirname(dir)) !== task) return E.left(`--from ${options.from}: not a ${task} run (expected <out>/${task}/<name>)`);
    return pipe(
      readRunConfig(dir),
      E.chain((saved) => resolveConfig(spec, { base: { value: saved, source: from.configPath }, sets: options.sets })),
      E.chain((config) =>
        E.map((run: RunDir) => ({ config, run }))(openRunDir({ root: path.dirname(path.dirname(dir)), task, name: path.basename(dir), config, resume: true })),
      ),
    );
  }
  return pipe(
    resolveConfig(spec, { preset: options.preset, sets: options.sets }),
    E.chain((config) => E.map((run: RunDir) => ({ config, run }))(openRunDir({ root: options.out, task, name: options.name, config }))),
  );
}
