/**
 * Where a run's config comes from: a preset (a new run), a run directory's config.json (`--resume`), or a
 * checkpoint (`tune`, `noise`, `eval` and `pool --from`: --preset's when given, else the config stored in it, or
 * its preset's for a checkpoint shipped with the package), always followed by --seed, --data and --set. Configs read
 * back from disk first get the keys renamed since they were saved moved to their new names (TaskAdapter.movedKeys).
 * Also `--from` resolved to a checkpoint file, its run directory, and where `eval` writes.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import {
  latestCheckpoint,
  loadCheckpoint,
  orUsageError,
  resolveConfig,
  restoreInto,
  UsageError,
  type ConfigSpec,
  type EncoderDecoder,
} from '@reward-tune/core-model';
import type { TaskCliOptions } from './flags';
import type { Split } from './adapter';

/** What config resolution needs of a task (TaskAdapter's fields of the same names). */
export interface ConfigSource<C> {
  readonly spec: ConfigSpec<z.ZodType<C>>;
  readonly movedKeys?: Readonly<Record<string, string>>;
  shippedCheckpoint(preset: string): string;
  /** A UViM task's stage I: where its config keeps the oracle, and its shipped oracle per preset. */
  readonly oracle?: {
    section(cfg: C): { readonly checkpoint?: string };
    shipped?(preset: string): string;
  };
}

/** A config read from disk, and the file it came from (named in error messages). */
export interface SavedConfig {
  readonly value: unknown;
  readonly source: string;
}

/** `--from`: a checkpoint file, or a run directory whose latest checkpoint is taken. */
export function resolveCheckpoint(from: string): string {
  if (!existsSync(from)) throw new UsageError(`--from ${from}: no such file or directory`);
  if (from.endsWith('.safetensors')) return from;
  const file = latestCheckpoint(path.join(from, 'checkpoints'));
  if (file === undefined) throw new UsageError(`--from ${from}: no checkpoint in ${path.join(from, 'checkpoints')}`);
  return file;
}

/** Loads the weights (not the optimizer state) of a checkpoint file or a run directory's latest into `model`. */
export function loadWeights(model: EncoderDecoder, from: string): { file: string; config: unknown } {
  const file = resolveCheckpoint(from);
  const ckpt = orUsageError(loadCheckpoint(file));
  orUsageError(restoreInto(model.params, undefined, { ...ckpt, optimizer: undefined }));
  return { file, config: ckpt.config };
}

/** The config saved in a checkpoint (every checkpoint carries its run's resolved config). */
export function checkpointConfig(file: string): SavedConfig {
  return { value: orUsageError(loadCheckpoint(file)).config, source: file };
}

/** The run directory a checkpoint `<run>/checkpoints/step_<n>.safetensors` belongs to. */
export const runOfCheckpoint = (file: string): string => path.dirname(path.dirname(path.resolve(file)));

/**
 * Where `eval` (and `pool`) write the evaluation of a checkpoint on `split`: its run directory when it is the latest
 * of a run (`<run>/checkpoints/`, with the run's config.json) and the split is `test`, the run's own; else
 * `<run>/evals/<file name>` for an earlier one of that run or `<run>/evals/<file name>-<split>` for another split (so
 * neither replaces the run's own evaluation, which `demo` and the reports read); a checkpoint in no run goes to
 * `<out>/<tool>/eval-<file name>` (`-<split>` for another split than `test`) — never beside a checkpoint that ships
 * inside a package or sits in a folder of its own.
 */
export function evalDirOf(file: string, outRoot: string, tool: string, split: Split = 'test'): string {
  const name = path.basename(file, '.safetensors') + (split === 'test' ? '' : `-${split}`);
  const run = runOfCheckpoint(file);
  if (path.basename(path.dirname(path.resolve(file))) === 'checkpoints' && existsSync(path.join(run, 'config.json'))) {
    const latest = latestCheckpoint(path.join(run, 'checkpoints'));
    const isLatest = latest !== undefined && path.resolve(latest) === path.resolve(file);
    return isLatest && split === 'test' ? run : path.join(run, 'evals', name);
  }
  return path.join(path.resolve(outRoot), tool, `eval-${name}`);
}

/**
 * A saved config with the keys `moved` names (old dotted path → new) moved to their new place, unless that is
 * already taken; objects left empty are removed. Returns a copy; the saved value is not changed.
 */
export function moveKeys(saved: unknown, moved: Readonly<Record<string, string>>): unknown {
  if (typeof saved !== 'object' || saved === null || Object.keys(moved).length === 0) return saved;
  const out = structuredClone(saved) as Record<string, unknown>;
  /** The object holding the last key of `keys` (made on the way when `make`). */
  const parentOf = (keys: readonly string[], make: boolean): Record<string, unknown> | undefined => {
    let node: Record<string, unknown> = out;
    for (const k of keys.slice(0, -1)) {
      if (typeof node[k] !== 'object' || node[k] === null) {
        if (!make) return undefined;
        node[k] = {};
      }
      node = node[k] as Record<string, unknown>;
    }
    return node;
  };
  for (const [from, to] of Object.entries(moved)) {
    const fromKeys = from.split('.');
    const toKeys = to.split('.');
    const source = parentOf(fromKeys, false);
    const key = fromKeys[fromKeys.length - 1];
    if (source === undefined || !(key in source)) continue;
    const value = source[key];
    delete source[key];
    // An object the move left empty (e.g. `tune.confWarmup` once its keys have moved) goes too.
    for (let depth = fromKeys.length - 1; depth > 0; depth--) {
      const parent = parentOf(fromKeys.slice(0, depth), false);
      const k = fromKeys[depth - 1];
      const child = parent?.[k];
      if (parent && typeof child === 'object' && child !== null && Object.keys(child).length === 0) delete parent[k];
    }
    const target = parentOf(toKeys, true) as Record<string, unknown>;
    target[toKeys[toKeys.length - 1]] ??= value;
  }
  return out;
}

/** The config of a new run: a preset (or `saved`, e.g. a checkpoint's config) plus --seed, --data and --set. */
export function newRunConfig<C>(source: ConfigSource<C>, opts: TaskCliOptions, saved?: SavedConfig): C {
  const base = saved && { ...saved, value: moveKeys(saved.value, source.movedKeys ?? {}) };
  const sets = [...(opts.seed === undefined ? [] : [`seed=${opts.seed}`]), ...opts.sets];
  if (opts.data !== undefined) sets.push(`data.dir=${JSON.stringify(path.resolve(opts.data))}`);
  return orUsageError(resolveConfig(source.spec, base ? { base, sets } : { preset: opts.preset, sets }));
}

/** The saved config of the run directory `dir` (`--resume`), then --seed, --data and --set. */
export function savedRunConfig<C>(source: ConfigSource<C>, dir: string, opts: TaskCliOptions): C {
  const configPath = path.join(dir, 'config.json');
  if (!existsSync(configPath)) throw new UsageError(`--from ${opts.from}: not a run directory (no config.json)`);
  const saved = { value: JSON.parse(readFileSync(configPath, 'utf8')), source: configPath };
  return newRunConfig(source, { ...opts, preset: undefined }, saved);
}

/**
 * The config a run from checkpoint `file` starts from, before --seed, --data and --set: --preset's when given;
 * for a checkpoint shipped with the package, its preset's, as the demo takes it (its stored config is that of the
 * code that trained it: an older tune section, say); else the config stored in the checkpoint. A UViM task's
 * shipped stage II checkpoint also gets its preset's shipped oracle as `oracle.checkpoint` when --set gives none,
 * as the demo does (the checkpoint's oracle record is checked against it before any weight is used).
 */
export function runConfigFrom<C>(source: ConfigSource<C>, file: string, opts: TaskCliOptions): C {
  const shippedAs = Object.keys(source.spec.presets).find(
    (p) => path.resolve(source.shippedCheckpoint(p)) === path.resolve(file),
  );
  const cfg =
    opts.preset !== undefined
      ? newRunConfig(source, opts)
      : shippedAs === undefined
        ? newRunConfig(source, opts, checkpointConfig(file))
        : newRunConfig(source, { ...opts, preset: shippedAs });
  const oracle = shippedAs === undefined ? undefined : source.oracle?.shipped?.(opts.preset ?? shippedAs);
  if (oracle === undefined || source.oracle?.section(cfg).checkpoint !== undefined || !existsSync(oracle)) return cfg;
  return runConfigFrom(source, file, { ...opts, sets: [...opts.sets, `oracle.checkpoint=${JSON.stringify(oracle)}`] });
}

/** The loops' own sections, which a saved config may spell as an older version of the code did. */
const LOOP_SECTIONS: readonly string[] = ['mle', 'tune', 'eval'];

/**
 * The config a checkpoint was trained with, as far as its model and data go (the loops' sections left out: they
 * change as the code does, and do not decide whether the weights fit): for comparing with a run's `modelKey`.
 */
export function trainedConfig<C>(source: ConfigSource<C>, file: string, opts: TaskCliOptions): C {
  const { value, source: where } = checkpointConfig(file);
  const kept =
    typeof value === 'object' && value !== null
      ? Object.fromEntries(Object.entries(value).filter(([k]) => !LOOP_SECTIONS.includes(k)))
      : value;
  return newRunConfig(source, { ...opts, preset: undefined, sets: [] }, { value: kept, source: where });
}
