/**
 * The flags every task command shares (`task-detection tune --preset tiny --set tune.steps=100 ...`), parsed in one
 * place so that all tasks spell and check them the same way. A bad flag is a `UsageError` (exit code 2 through
 * core-model's `runCli`), one line naming the flag.
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
 *
 * A command adds its own flags (`TaskCliSpec.extra`), e.g. `--resume`, `--from-scratch`, `--batches`.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BACKEND_CHOICES, checkBackendEnv, UsageError, type BackendChoice } from '@reward-tune/core-model';

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
    all.map(([k, o]) => [
      k,
      { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) },
    ]),
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
    if (!Number.isSafeInteger(seed) || seed > 0xffffffff)
      throw new UsageError(`--seed ${seedText}: expected an integer in [0, 4294967295]`);
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

/** Parses a command's arguments; undefined after printing --help. */
export function parseCommand(args: readonly string[], spec: TaskCliSpec = {}): TaskCliOptions | undefined {
  const opts = parseTaskArgs(args, spec);
  if (opts.help) {
    process.stdout.write(`${taskOptionsHelp(spec)}\n`);
    return undefined;
  }
  // The backend's environment variables too, before any work (data, run directories), not when the backend starts.
  checkBackendEnv();
  return opts;
}
