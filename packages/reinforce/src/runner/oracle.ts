/**
 * UViM in the task runner: the stage I config of a task config, the frozen oracle of its stage II
 * (`oracle.checkpoint`, loaded once per process), and the guards that keep a stage II model with the oracle it was
 * trained over. A stage II run records its oracle (the checkpoint's path and content hash) in `oracle.json` and in
 * every checkpoint's metadata (`oracle`); a checkpoint or a resumed run recorded with another oracle is refused,
 * one line, exit 2. The content hash is core-model's `oracleContentHash` (parameters and dictionary state), so a
 * copied or moved oracle still matches and a retrained one does not.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import {
  checkStageTwoVocab,
  loadCheckpoint,
  loadOracle,
  oraclePreset,
  orUsageError,
  UsageError,
  type LoadedOracle,
  type OracleConfig,
  type RunDir,
} from '@reward-tune/core-model';
import type { OracleSection } from '../config-sections';
import type { RunnerConfig, TaskAdapter, TaskSetup } from './adapter';
import { resolveCheckpoint } from './run-config';

/** The file in a stage II run's directory that names the oracle it trains over. */
export const ORACLE_RECORD = 'oracle.json';
/** The checkpoint metadata key of the same record. */
export const ORACLE_METADATA_KEY = 'oracle';

/** Which oracle: its checkpoint (absolute path when recorded) and its content hash. */
export interface OracleRef {
  readonly checkpoint: string;
  readonly sha256: string;
}

type AnyOracleAdapter<C extends RunnerConfig> = Pick<
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  TaskAdapter<C, any, any, any, any>,
  'tool' | 'oracle'
>;

/** The adapter's oracle hooks, or a UsageError saying that the task has no stage I. */
export function oracleHooks<C extends RunnerConfig>(adapter: AnyOracleAdapter<C>) {
  if (adapter.oracle === undefined) throw new UsageError(`${adapter.tool} has no stage I oracle (not a UViM task)`);
  return adapter.oracle;
}

/** The stage I model config of a task config: its `oracle` section's preset and overrides, the task's outputs. */
export function oracleConfigOf<C extends RunnerConfig>(adapter: AnyOracleAdapter<C>, cfg: C): OracleConfig {
  const hooks = oracleHooks(adapter);
  const section: OracleSection = hooks.section(cfg);
  return oraclePreset(section.preset, { ...section.model, outputs: [...hooks.outputs(cfg)] });
}

const loaded = new Map<string, LoadedOracle>();

/**
 * The frozen oracle of a stage I checkpoint (a file, or a run directory whose latest checkpoint is taken), loaded
 * once per process and file version; a problem is a UsageError naming `field`. Its tensors live as long as the
 * process (every stage II step uses them).
 */
export function loadFrozenOracle(from: string, field = 'oracle.checkpoint'): LoadedOracle {
  if (!existsSync(from)) throw new UsageError(`${field} ${from}: no such file or directory`);
  let file: string;
  try {
    file = path.resolve(resolveCheckpoint(from));
  } catch (e) {
    throw new UsageError(`${field}: ${(e as Error).message.replace(/^--from /, '')}`);
  }
  const st = statSync(file);
  const key = `${file}\0${st.mtimeMs}\0${st.size}`;
  const hit = loaded.get(key);
  if (hit !== undefined) return hit;
  const r = loadOracle(file);
  if (E.isLeft(r)) throw new UsageError(`${field}: ${r.left}`);
  loaded.set(key, r.right);
  return r.right;
}

/** The frozen oracle a config's stage II uses (undefined for a task without stage I or before one is set). */
export function stageOneOf<C extends RunnerConfig>(adapter: AnyOracleAdapter<C>, cfg: C): LoadedOracle | undefined {
  const from = adapter.oracle?.section(cfg).checkpoint;
  return from === undefined ? undefined : loadFrozenOracle(from);
}

/** The record of an oracle. */
export const oracleRef = (o: LoadedOracle): OracleRef => ({ checkpoint: path.resolve(o.file), sha256: o.sha256 });

const short = (r: OracleRef): string => `${r.checkpoint} (sha256 ${r.sha256.slice(0, 12)})`;

/**
 * Before a stage II command (pretrain, tune, eval, noise, demo) of a UViM task: an oracle is set, it is the oracle
 * the config describes (preset, overrides, outputs), and the stage II model's vocabulary is its dictionary + 1.
 * Nothing for other tasks.
 */
export function checkStageTwo<C extends RunnerConfig>(
  adapter: AnyOracleAdapter<C>,
  cfg: C,
  setup: Pick<TaskSetup<unknown, unknown, unknown, unknown>, 'buildModel'>,
): void {
  if (adapter.oracle === undefined) return;
  const oracle = stageOneOf(adapter, cfg);
  if (oracle === undefined) {
    throw new UsageError(
      `stage II needs a trained oracle: set oracle.checkpoint to a stage I checkpoint or run (${adapter.tool} pretrain-oracle makes one)`,
    );
  }
  const want = oracleConfigOf(adapter, cfg);
  const got = oracle.cfg as unknown as Record<string, unknown>;
  const diff = Object.keys({ ...want, ...got }).find(
    (k) => JSON.stringify((want as unknown as Record<string, unknown>)[k]) !== JSON.stringify(got[k]),
  );
  if (diff !== undefined) {
    const show = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v));
    throw new UsageError(
      `oracle.checkpoint ${oracle.file}: its oracle has ${diff} ${show(got[diff])}, this config's oracle section ${show((want as unknown as Record<string, unknown>)[diff])}`,
    );
  }
  const model = setup.buildModel(cfg.seed);
  try {
    checkStageTwoVocab(oracle.cfg, model.vocabSize, 'model vocabulary');
  } finally {
    model.dispose();
  }
}

/**
 * A stage II run's record of its oracle: written when the run starts, compared when it resumes (a resumed run over
 * another oracle is refused).
 */
export function recordOracle(run: RunDir, oracle: LoadedOracle | undefined): void {
  if (oracle === undefined) return;
  const ref = oracleRef(oracle);
  const file = path.join(run.dir, ORACLE_RECORD);
  if (run.resumed && existsSync(file)) {
    const recorded = parseRef(readFileSync(file, 'utf8'), file);
    if (recorded.sha256 !== ref.sha256)
      throw new UsageError(`${run.dir} trains over the oracle ${short(recorded)}, not ${short(ref)}`);
    return;
  }
  run.writeFile(ORACLE_RECORD, `${JSON.stringify(ref, null, 2)}\n`);
}

/** The checkpoint metadata of a run: a stage II run's oracle record (`recordOracle` wrote it), or undefined. */
export function runOracleMetadata(run: RunDir): Record<string, string> | undefined {
  const file = path.join(run.dir, ORACLE_RECORD);
  if (!existsSync(file)) return undefined;
  return { [ORACLE_METADATA_KEY]: JSON.stringify(parseRef(readFileSync(file, 'utf8'), file)) };
}

function parseRef(text: string, where: string): OracleRef {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new UsageError(`${where}: not valid JSON`);
  }
  const r = (v ?? {}) as Record<string, unknown>;
  for (const k of ['checkpoint', 'sha256'] as const)
    if (typeof r[k] !== 'string') throw new UsageError(`${where}: ${k}: expected a string`);
  return { checkpoint: r.checkpoint as string, sha256: r.sha256 as string };
}

/**
 * Before a stage II checkpoint's weights are loaded: it must record the oracle in use (its metadata `oracle`).
 * Nothing when no oracle is in use.
 */
export function checkCheckpointOracle(
  file: string,
  extra: Readonly<Record<string, string>>,
  oracle: LoadedOracle | undefined,
): void {
  if (oracle === undefined) return;
  const raw = extra[ORACLE_METADATA_KEY];
  if (raw === undefined)
    throw new UsageError(
      `${file} records no stage I oracle (metadata "${ORACLE_METADATA_KEY}"): not a stage II checkpoint`,
    );
  const recorded = parseRef(raw, `${file}: metadata "${ORACLE_METADATA_KEY}"`);
  const ref = oracleRef(oracle);
  if (recorded.sha256 !== ref.sha256) {
    throw new UsageError(
      `${file} was trained over the oracle ${short(recorded)}, but oracle.checkpoint is ${short(ref)}: give the oracle it was trained with`,
    );
  }
}

/** `checkCheckpointOracle` for a stage II checkpoint file of a config's task (nothing for other tasks). */
export function checkStageTwoCheckpoint<C extends RunnerConfig>(
  adapter: AnyOracleAdapter<C>,
  cfg: C,
  file: string,
): void {
  const oracle = stageOneOf(adapter, cfg);
  if (oracle !== undefined) checkCheckpointOracle(file, orUsageError(loadCheckpoint(file)).extra, oracle);
}
