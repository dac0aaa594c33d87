/**
 * Training checkpoints: one safetensors file (./safetensors.ts) per save holding the parameters under their
 * big_vision-style names, the optimizer state under `opt/<state name>` (e.g. `opt/<param>/m`), and as `__metadata__`
 * the format and version, the step, the RNG state, the optimizer's step and the resolved config (JSON).
 *
 * Writes are atomic: the bytes go to a hidden temp file in the same directory, are fsynced, and the file is renamed
 * over the target (then the directory is fsynced), so a crash leaves either the old file or the new one, never a
 * torn one. Files are named `step_<step, ≥ 6 digits>.safetensors` in a run's `checkpoints/` directory;
 * `latestCheckpoint` picks the highest step and `pruneCheckpoints` keeps the last K.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { writeFileAtomic } from './fs-atomic';
import { either as E } from 'fp-ts';
import type { Optimizer } from './optim/optimizer';
import type { Params } from './model/policy';
import type { RngState } from './rng';
import { decodeSafetensors, encodeHeader, tensorBytes, type HostTensor, type SafeDType } from './safetensors';

export const CHECKPOINT_FORMAT = 'reward-tune-checkpoint';
export const CHECKPOINT_VERSION = 1;
const OPT_PREFIX = 'opt/';
const OWN_METADATA = new Set(['format', 'format_version', 'step', 'rng_state', 'config', 'optimizer_step']);

/** An optimizer's state as `Optimizer.getState()` returns it. */
export interface OptimizerState {
  readonly step: number;
  readonly tensors: ReadonlyMap<string, tf.Tensor>;
}

export interface CheckpointInput {
  /** Parameter values by name (a model's `Params`, or copies of them). */
  readonly params: Params | ReadonlyMap<string, tf.Tensor>;
  readonly optimizer?: Optimizer | OptimizerState;
  readonly step: number;
  readonly rngState: RngState;
  /** The resolved run config (anything JSON-serialisable). */
  readonly config: unknown;
  /** Caller's own metadata (e.g. a training loop's phase and bookkeeping); keys must not clash with ours. */
  readonly extra?: Readonly<Record<string, string>>;
}

export interface Checkpoint {
  /** The file it was read from (for messages). */
  readonly file: string;
  readonly step: number;
  readonly rngState: RngState;
  readonly config: unknown;
  readonly params: ReadonlyMap<string, HostTensor>;
  readonly optimizer?: { readonly step: number; readonly tensors: ReadonlyMap<string, HostTensor> };
  /** The caller's metadata saved with `extra`. */
  readonly extra: Readonly<Record<string, string>>;
}

export interface Restored {
  readonly step: number;
  readonly rngState: RngState;
  readonly config: unknown;
}

const DTYPES: Partial<Record<tf.DataType, SafeDType>> = { float32: 'F32', int32: 'I32' };
const TF_DTYPES: Record<SafeDType, 'float32' | 'int32'> = { F32: 'float32', I32: 'int32' };

function safeDType(name: string, t: tf.Tensor): SafeDType {
  const d = DTYPES[t.dtype];
  if (d === undefined) throw new Error(`checkpoint: tensor "${name}" has dtype ${t.dtype} (float32 or int32 expected)`);
  return d;
}

/** Saves atomically to `file` (its directory is created if needed); the state saved is that at the call. */
export async function saveCheckpoint(file: string, input: CheckpointInput): Promise<void> {
  const entries: Array<[string, tf.Tensor]> = [];
  for (const [name, p] of input.params) {
    if (name.startsWith(OPT_PREFIX))
      throw new Error(`checkpoint: parameter name "${name}" clashes with the ${OPT_PREFIX} prefix`);
    entries.push([name, p]);
  }
  const opt =
    input.optimizer === undefined || !('getState' in input.optimizer) ? input.optimizer : input.optimizer.getState();
  if (opt !== undefined) for (const [name, t] of opt.tensors) entries.push([OPT_PREFIX + name, t]);
  for (const key of Object.keys(input.extra ?? {})) {
    if (OWN_METADATA.has(key))
      throw new Error(`checkpoint: extra metadata key "${key}" clashes with the checkpoint's own`);
  }
  const metadata: Record<string, string> = {
    ...input.extra,
    format: CHECKPOINT_FORMAT,
    format_version: String(CHECKPOINT_VERSION),
    step: String(input.step),
    rng_state: JSON.stringify(input.rngState),
    config: JSON.stringify(input.config ?? null),
  };
  if (opt !== undefined) metadata.optimizer_step = String(opt.step);
  const header = encodeHeader(
    entries.map(([name, t]) => [name, { dtype: safeDType(name, t), shape: t.shape }] as const),
    metadata,
  );
  // Clones share the data and updates replace a variable's data rather than write into it, so this is a consistent
  // snapshot even if training goes on while the bytes are read back and written.
  const snapshot = entries.map(([name, t]) => [name, tf.clone(t)] as const);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    yield header;
    for (const [name, t] of snapshot) {
      const data = (await t.data()) as Float32Array | Int32Array;
      yield tensorBytes({ dtype: safeDType(name, t), shape: t.shape, data });
    }
  }
  try {
    await writeFileAtomic(file, chunks());
  } finally {
    tf.dispose(snapshot.map(([, t]) => t));
  }
}

/** Reads and validates a checkpoint; a Left is one line naming the file and the tensor or field. */
export function loadCheckpoint(file: string): E.Either<string, Checkpoint> {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    return E.left(`${file}: cannot read checkpoint (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const decoded = decodeSafetensors(bytes);
  if (E.isLeft(decoded)) return E.left(`${file}: ${decoded.left}`);
  const { tensors, metadata } = decoded.right;
  const fail = (field: string, what: string): E.Either<string, never> => E.left(`${file}: metadata "${field}" ${what}`);
  if (metadata.format !== CHECKPOINT_FORMAT)
    return fail('format', `is ${JSON.stringify(metadata.format)}, not "${CHECKPOINT_FORMAT}"`);
  if (metadata.format_version !== String(CHECKPOINT_VERSION)) {
    return fail(
      'format_version',
      `is ${JSON.stringify(metadata.format_version)}; this reader knows version ${CHECKPOINT_VERSION}`,
    );
  }
  const step = parseStep(metadata.step);
  if (step === undefined) return fail('step', `is ${JSON.stringify(metadata.step)}, not a non-negative integer`);
  let rngState: RngState;
  let config: unknown;
  try {
    const r: unknown = JSON.parse(metadata.rng_state ?? '');
    if (
      !Array.isArray(r) ||
      r.length !== 4 ||
      !r.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32) ||
      r.every((x) => x === 0)
    ) {
      return fail('rng_state', 'is not four uint32 words, not all zero');
    }
    rngState = [r[0], r[1], r[2], r[3]];
  } catch {
    return fail('rng_state', 'is not valid JSON');
  }
  try {
    config = JSON.parse(metadata.config ?? '');
  } catch {
    return fail('config', 'is not valid JSON');
  }
  const params = new Map<string, HostTensor>();
  const optTensors = new Map<string, HostTensor>();
  for (const [name, t] of tensors) {
    if (name.startsWith(OPT_PREFIX)) optTensors.set(name.slice(OPT_PREFIX.length), t);
    else params.set(name, t);
  }
  let optimizer: Checkpoint['optimizer'];
  if (metadata.optimizer_step !== undefined) {
    const optStep = parseStep(metadata.optimizer_step);
    if (optStep === undefined)
      return fail('optimizer_step', `is ${JSON.stringify(metadata.optimizer_step)}, not a non-negative integer`);
    optimizer = { step: optStep, tensors: optTensors };
  } else if (optTensors.size > 0) {
    return fail('optimizer_step', `is missing although the file holds ${optTensors.size} optimizer tensors`);
  }
  const extra = Object.fromEntries(Object.entries(metadata).filter(([k]) => !OWN_METADATA.has(k)));
  return E.right({ file, step, rngState, config, params, optimizer, extra });
}

/**
 * Copies a checkpoint's parameters into `params` and its optimizer state into `optimizer` (when given). Everything
 * is checked first — every parameter present with the same shape and dtype, no extra tensors, the optimizer state
 * matching the optimizer's own — so that a Left leaves `params` and `optimizer` untouched.
 */
export function restoreInto(
  params: Params,
  optimizer: Optimizer | undefined,
  ckpt: Checkpoint,
): E.Either<string, Restored> {
  const problems: string[] = [];
  const check = (
    label: string,
    expected: ReadonlyMap<string, tf.Tensor>,
    got: ReadonlyMap<string, HostTensor>,
  ): void => {
    for (const [name, t] of expected) {
      const c = got.get(name);
      const want = DTYPES[t.dtype];
      if (c === undefined) problems.push(`${label} "${name}" is missing from the checkpoint`);
      else if (!tf.util.arraysEqual(c.shape as number[], t.shape)) {
        problems.push(
          `${label} "${name}": shape [${c.shape.join(', ')}] in the checkpoint, [${t.shape.join(', ')}] expected`,
        );
      } else if (c.dtype !== want)
        problems.push(`${label} "${name}": dtype ${c.dtype} in the checkpoint, ${want ?? t.dtype} expected`);
    }
    for (const name of got.keys())
      if (!expected.has(name)) problems.push(`${label} "${name}" in the checkpoint is not expected here`);
  };
  check('tensor', params, ckpt.params);
  const optState = optimizer?.getState();
  if (optState !== undefined) {
    if (ckpt.optimizer === undefined) problems.push('holds no optimizer state');
    else check('tensor', withPrefix(optState.tensors), withPrefix(ckpt.optimizer.tensors));
  }
  if (problems.length > 0) {
    const more =
      problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    return E.left(`${ckpt.file}: ${problems[0]}${more}`);
  }
  for (const [name, p] of params) {
    const c = ckpt.params.get(name) as HostTensor;
    tf.tidy(() => p.assign(tf.tensor(c.data, c.shape as number[], TF_DTYPES[c.dtype])));
  }
  if (optimizer !== undefined && ckpt.optimizer !== undefined) {
    const tensors = new Map(
      [...ckpt.optimizer.tensors].map(([n, c]) => [n, tf.tensor(c.data, c.shape as number[], TF_DTYPES[c.dtype])]),
    );
    try {
      optimizer.setState({ step: ckpt.optimizer.step, tensors });
    } finally {
      tf.dispose([...tensors.values()]);
    }
  }
  return E.right({ step: ckpt.step, rngState: ckpt.rngState, config: ckpt.config });
}

function withPrefix<T>(m: ReadonlyMap<string, T>): Map<string, T> {
  return new Map([...m].map(([k, v]) => [OPT_PREFIX + k, v]));
}

function parseStep(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

const CHECKPOINT_NAME = /^step_(\d+)\.safetensors$/;

/** `<dir>/step_000123.safetensors` (at least 6 digits, more when the step needs them). */
export function checkpointPath(dir: string, step: number): string {
  if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`step must be a non-negative integer, got ${step}`);
  return path.join(dir, `step_${String(step).padStart(6, '0')}.safetensors`);
}

/** Checkpoints in `dir` as [step, path], oldest first (none if the directory does not exist). */
export function listCheckpoints(dir: string): Array<[number, string]> {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const found: Array<[number, string]> = [];
  for (const n of names) {
    const m = CHECKPOINT_NAME.exec(n);
    if (m !== null) found.push([Number(m[1]), path.join(dir, n)]);
  }
  return found.sort((a, b) => a[0] - b[0]);
}

/** The checkpoint with the highest step in `dir`, if any. */
export function latestCheckpoint(dir: string): string | undefined {
  return listCheckpoints(dir).at(-1)?.[1];
}

/** Deletes all but the `keep` highest-step checkpoints in `dir`; returns the deleted paths. */
export function pruneCheckpoints(dir: string, keep: number): string[] {
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`keep must be a positive integer, got ${keep}`);
  const all = listCheckpoints(dir);
  const doomed = all.slice(0, Math.max(0, all.length - keep)).map(([, p]) => p);
  for (const p of doomed) fs.rmSync(p, { force: true });
  return doomed;
}
