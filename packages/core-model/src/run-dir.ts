/**
 * Run directories: `<root>/<task>/<name>/` holding
 *   config.json     the resolved config (pretty JSON),
 *   metrics.jsonl   one JSON object per logged step: {step, phase, wall_time (Unix seconds), ...numbers},
 *   checkpoints/    created empty here; the checkpoint module writes into it,
 *   anything else   reports and visualisations, written through `writeFile` (temp file + rename).
 *
 * A run never silently overwrites another: opening an existing, non-empty run directory without `resume` is an
 * error, except when it holds the same config and has logged nothing yet (a run that died at start-up).
 */
import { writeAtomic } from './fs-atomic';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { readJson } from './input';

export interface MetricRecord {
  readonly step: number;
  readonly phase: string;
  readonly wall_time: number;
  readonly [name: string]: number | string | null;
}

export interface RunDir {
  readonly dir: string;
  readonly task: string;
  readonly name: string;
  readonly configPath: string;
  readonly metricsPath: string;
  readonly checkpointsDir: string;
  /** True when an existing run was reopened with `resume`. */
  readonly resumed: boolean;
  /** The config.json found on resume (the new config has replaced it on disk). */
  readonly previousConfig?: unknown;
  /** Appends one line to metrics.jsonl; non-finite numbers are written as null (JSON has no NaN). */
  logMetrics(step: number, phase: string, values?: Readonly<Record<string, number>>): MetricRecord;
  /** Writes a report file inside the run directory, atomically; returns its path. */
  writeFile(name: string, data: string | Uint8Array): string;
}

export interface RunDirOptions {
  /** Default `runs`. */
  readonly root?: string;
  readonly task: string;
  /** Default: the start time, `YYYYMMDD-HHMMSS` (UTC), with `-2`, `-3`, ... if taken. */
  readonly name?: string;
  /** The resolved config, written to config.json. */
  readonly config: unknown;
  readonly resume?: boolean;
  readonly now?: () => Date;
}

const RESERVED = new Set(['step', 'phase', 'wall_time']);

export function defaultRunName(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

const badSegment = (s: string): boolean => s === '' || s === '.' || s === '..' || /[/\\]/.test(s);

const configText = (config: unknown): string => `${JSON.stringify(config, null, 2)}\n`;

export function openRunDir(options: RunDirOptions): E.Either<string, RunDir> {
  const root = options.root ?? 'runs';
  const now = options.now ?? (() => new Date());
  const { task, resume = false } = options;
  if (badSegment(task)) return E.left(`run directory: task: "${task}" is not a plain directory name`);
  if (options.name !== undefined && badSegment(options.name))
    return E.left(`--name ${options.name}: not a plain directory name`);

  let name = options.name;
  if (name === undefined) {
    if (resume) return E.left('run directory: resuming needs the name of the run');
    const base = defaultRunName(now());
    name = base;
    for (let k = 2; existsSync(path.join(root, task, name)); k++) name = `${base}-${k}`;
  }
  const dir = path.join(root, task, name);
  const configPath = path.join(dir, 'config.json');
  const metricsPath = path.join(dir, 'metrics.jsonl');
  const checkpointsDir = path.join(dir, 'checkpoints');
  const text = configText(options.config);

  let previousConfig: unknown;
  const exists = existsSync(dir);
  if (exists && !statSync(dir).isDirectory()) return E.left(`${dir}: exists and is not a directory`);
  const empty = !exists || readdirSync(dir).length === 0;
  if (resume) {
    if (!existsSync(configPath)) return E.left(`${dir}: cannot resume: not a run directory (no config.json)`);
    const prev = readJson(configPath);
    if (E.isLeft(prev)) return prev;
    previousConfig = prev.right;
  } else if (!empty) {
    if (!existsSync(configPath))
      return E.left(`${dir}: exists and is not a run directory (no config.json); choose another --name`);
    const sameConfig = readFileSync(configPath, 'utf8') === text;
    const logged = existsSync(metricsPath) && statSync(metricsPath).size > 0;
    if (!sameConfig || logged) {
      return E.left(
        `${dir}: a run already exists here (${sameConfig ? 'it has logged metrics' : 'with a different config'}); pass --from ${dir} to resume it or choose another --name`,
      );
    }
  }

  try {
    mkdirSync(checkpointsDir, { recursive: true });
    writeAtomic(configPath, text);
    if (!existsSync(metricsPath)) writeFileSync(metricsPath, '');
  } catch (err) {
    return E.left(`${dir}: cannot write run directory (${(err as Error).message})`);
  }

  return E.right({
    dir,
    task,
    name,
    configPath,
    metricsPath,
    checkpointsDir,
    resumed: resume,
    previousConfig,
    logMetrics(step, phase, values = {}) {
      const record: Record<string, number | string | null> = { step, phase, wall_time: now().getTime() / 1000 };
      for (const [k, v] of Object.entries(values)) {
        if (RESERVED.has(k)) throw new RangeError(`logMetrics: "${k}" is a reserved field`);
        record[k] = Number.isFinite(v) ? v : null;
      }
      appendFileSync(metricsPath, `${JSON.stringify(record)}\n`);
      return record as MetricRecord;
    },
    writeFile(fileName, data) {
      const target = path.join(dir, fileName);
      if (path.relative(dir, target).startsWith('..') || path.isAbsolute(fileName)) {
        throw new RangeError(`writeFile: ${fileName} is outside the run directory`);
      }
      mkdirSync(path.dirname(target), { recursive: true });
      writeAtomic(target, data);
      return target;
    },
  });
}

/** A run directory's saved config, for `--from <run dir>`. */
export const readRunConfig = (dir: string): E.Either<string, unknown> => readJson(path.join(dir, 'config.json'));

/** Reads metrics.jsonl back (reports, plots, tests); a bad line is named by its number. */
export function readMetrics(file: string): E.Either<string, MetricRecord[]> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return E.left(`${file}: cannot read file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const out: MetricRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(lines[i]);
    } catch {
      return E.left(`${file}: line ${i + 1}: malformed JSON`);
    }
    const r = v as Partial<MetricRecord>;
    if (
      typeof r !== 'object' ||
      r === null ||
      typeof r.step !== 'number' ||
      typeof r.phase !== 'string' ||
      typeof r.wall_time !== 'number'
    ) {
      return E.left(`${file}: line ${i + 1}: expected an object with step, phase and wall_time`);
    }
    out.push(r as MetricRecord);
  }
  return E.right(out);
}
