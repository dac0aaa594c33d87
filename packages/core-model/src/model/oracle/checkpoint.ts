/**
 * Stage I checkpoints: one safetensors file (core-model's checkpoint format) holding the oracle's parameters under
 * their big_vision names, its state as `state/dictionary` [K, Dc] and `state/counts` [K], and its resolved config as
 * the metadata key `oracle_config` (JSON), so that the file alone rebuilds the frozen oracle that stage II and
 * tuning use. A training run's checkpoints add the optimizer state (`opt/…`), the step and the RNG state, which
 * loading the oracle ignores.
 *
 * `sha256` identifies an oracle by content: the hash of its parameters and state (names, dtypes, shapes and bytes,
 * in name order), not of the file, so that a copy, a re-save without the optimizer state or another run directory
 * keeps the identity, and any changed value changes it. A stage II run records it to refuse another oracle.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import * as E from 'fp-ts/Either';
import { loadCheckpoint, restoreInto, saveCheckpoint, type Checkpoint, type OptimizerState } from '../../checkpoint';
import type { Optimizer } from '../../optim/optimizer';
import type { RngState } from '../../rng';
import { Rng } from '../../rng';
import type { HostTensor } from '../../safetensors';
import { validateOracleConfig, type OracleConfig } from './config';
import { oracleStateFromHost, oracleStateTensors, STATE_COUNTS, STATE_DICTIONARY } from './dictionary';
import { disposeOracle, initOracle, type OracleModel } from './oracle';
import type { FrozenOracle } from './stage-two';

/** The checkpoint metadata key that holds the oracle's resolved config (JSON). */
export const ORACLE_CONFIG_KEY = 'oracle_config';

const STATE_NAMES = new Set([STATE_DICTIONARY, STATE_COUNTS]);

/** What saveOracle writes besides the oracle (a training run's resume state; defaults: step 0, a fixed RNG). */
export interface SaveOracleOptions {
  readonly step?: number;
  readonly rngState?: RngState;
  readonly optimizer?: Optimizer | OptimizerState;
  /** The run's resolved config (the task's, of which the oracle's is a part). */
  readonly config?: unknown;
  readonly extra?: Readonly<Record<string, string>>;
}

/** The metadata that makes a checkpoint a stage I checkpoint. */
export const oracleMetadata = (cfg: OracleConfig): Record<string, string> => ({
  [ORACLE_CONFIG_KEY]: JSON.stringify(cfg),
});

/**
 * The oracle's tensors as a checkpoint holds them: its parameters (the live variables) and its state (new tensors,
 * disposed by `dispose`).
 */
export function oracleCheckpointTensors(model: OracleModel): {
  readonly tensors: Map<string, tf.Tensor>;
  dispose(): void;
} {
  const state = oracleStateTensors(model.state);
  return {
    tensors: new Map<string, tf.Tensor>([...model.params, ...state]),
    dispose: () => tf.dispose([...state.values()]),
  };
}

/** Saves a stage I checkpoint atomically (config.ts's config in the metadata). */
export async function saveOracle(
  file: string,
  model: OracleModel,
  cfg: OracleConfig,
  opts: SaveOracleOptions = {},
): Promise<void> {
  const { tensors, dispose } = oracleCheckpointTensors(model);
  try {
    await saveCheckpoint(file, {
      params: tensors,
      optimizer: opts.optimizer,
      step: opts.step ?? 0,
      rngState: opts.rngState ?? Rng.fromSeed(0).state(),
      config: opts.config ?? null,
      extra: { ...opts.extra, ...oracleMetadata(cfg) },
    });
  } finally {
    dispose();
  }
}

/** The content hash of an oracle's host tensors (parameters and state; optimizer tensors are not among them). */
export function oracleContentHash(tensors: ReadonlyMap<string, HostTensor>): string {
  const h = createHash('sha256');
  for (const name of [...tensors.keys()].sort()) {
    const t = tensors.get(name)!;
    h.update(`${name}\0${t.dtype}\0${t.shape.join(',')}\0`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest('hex');
}

/** A stage I checkpoint read back: the frozen oracle, where it came from and its content hash. */
export interface LoadedOracle extends FrozenOracle {
  readonly file: string;
  readonly sha256: string;
  /** The training step it was saved at. */
  readonly step: number;
}

/** The oracle config stored in a checkpoint (Left: one line naming the file and the field). */
export function checkpointOracleConfig(ckpt: Checkpoint): E.Either<string, OracleConfig> {
  const raw = ckpt.extra[ORACLE_CONFIG_KEY];
  if (raw === undefined)
    return E.left(`${ckpt.file}: not a stage I (oracle) checkpoint: metadata "${ORACLE_CONFIG_KEY}" is missing`);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return E.left(`${ckpt.file}: metadata "${ORACLE_CONFIG_KEY}" is not valid JSON`);
  }
  return validateOracleConfig(value, `${ckpt.file}: metadata "${ORACLE_CONFIG_KEY}"`);
}

/**
 * Reads a stage I checkpoint into a fresh oracle (its parameters as variables the caller disposes with
 * `disposeOracle`); every problem is a Left of one line naming the file and what is wrong.
 */
export function loadOracle(file: string): E.Either<string, LoadedOracle> {
  const read = loadCheckpoint(file);
  if (E.isLeft(read)) return read;
  const ckpt = read.right;
  const parsed = checkpointOracleConfig(ckpt);
  if (E.isLeft(parsed)) return parsed;
  const cfg = parsed.right;
  const weights = new Map([...ckpt.params].filter(([n]) => !STATE_NAMES.has(n)));
  const model = initOracle(cfg, 0);
  const restored = restoreInto(model.params, undefined, { ...ckpt, params: weights, optimizer: undefined });
  if (E.isLeft(restored)) {
    disposeOracle(model);
    return restored;
  }
  let state;
  try {
    state = oracleStateFromHost(ckpt.params, cfg);
  } catch (e) {
    disposeOracle(model);
    return E.left(`${file}: ${(e as Error).message}`);
  }
  // ckpt.params holds the parameters and the state; the optimizer's tensors are apart (ckpt.optimizer).
  return E.right({ cfg, params: model.params, state, file, sha256: oracleContentHash(ckpt.params), step: ckpt.step });
}
