/**
 * What a task gives the task runner: its config (a schema with reinforce's `mle`, `tune` and `eval` sections and
 * its own), and for a resolved config its `Task`, its model, its images and its evaluation suite; plus the few
 * lines and pages only it can write (a summary line, the JSON numbers, the demo's comparison). Everything else of
 * `task-<name> pretrain | tune | eval | demo | noise | pool` is the runner's (this folder).
 */
import path from 'node:path';
import type { z } from 'zod';
import type { ConfigSpec, EncoderDecoder, OracleOutputInput, RunDir, SequencePolicy } from '@reward-tune/core-model';
import type { ImageTable } from '../batches';
import type { EvalSection, MleSection, OracleSection, TuneSection } from '../config-sections';
import type { OracleTable } from '../oracle-loop';
import type { Task } from '../task';

/** The sections of a task's config the runner reads (the task's schema has more of its own). */
export interface RunnerConfig {
  readonly seed: number;
  readonly mle: MleSection;
  readonly tune: TuneSection;
  readonly eval: EvalSection;
}

/**
 * A task's three disjoint splits: `train` for the loops' batches, `val` for every choice (the held-out curves, the
 * presets' recipes) and `test` for the reported numbers (`eval.split`, the demo's headline).
 */
export type Split = 'train' | 'val' | 'test';

/** A task's objects for one resolved config; the runner sets each config up once per process. */
export interface TaskSetup<E, P, A, Ev> {
  readonly task: Task<E, P, A>;
  /** A model with fresh weights drawn from `seed`. */
  buildModel(seed: number): EncoderDecoder;
  /** The first `limit` images of a split (0 = all) at the model's size; the runner keeps each table it asks for. */
  images(split: Split, limit: number): ImageTable<E>;
  /**
   * The evaluation suite on `images` (the first `eval.images` of `split`); writes the task's artefacts under
   * `<dir>/eval/`.
   */
  evaluate(model: EncoderDecoder, dir: string, images: ImageTable<E>, split: Split): Promise<Ev>;
  /**
   * The same parameters as `model` under the logits processors the evaluation decodes with (detection: well-formed
   * slots), for the commands that sample from a model as it is evaluated (`pool`). Absent: the model itself.
   */
  decoding?(model: EncoderDecoder): SequencePolicy;
  /** Called with each new training run directory before its loop starts (e.g. to save a vocabulary there). */
  initRun?(run: RunDir): void;
  /** Called with each checkpoint before its weights are loaded; throws a UsageError when it does not fit. */
  checkCheckpoint?(file: string): void;
  /**
   * The policy to tune, from the loaded MLE model: it may adjust the weights once (a checkpoint the loop resumes
   * from then overrides them) and may return the same parameters under other logits processors. E.g. detection
   * gives a token that MLE never fed back the input embedding of its nearest kin, and decodes with well-formed
   * slots. Absent: the model itself.
   */
  prepareTuning?(model: EncoderDecoder): EncoderDecoder;
  /**
   * UViM tasks: a split's stage I examples (labels per output key, context images, optional per-pixel loss weights)
   * for `pretrain-oracle`; `limit` as for `images`. The runner draws the batches (with replacement for training,
   * in order for the held-out set).
   */
  oracleData?(split: Split, limit: number): OracleTable;
}

/**
 * A UViM task's stage I (TaskAdapter.oracle): where its config keeps the `oracle` section (oracleSectionSchema: the
 * size preset, overrides, training options and the frozen checkpoint of stage II) and which output keys its oracle
 * encodes and decodes.
 */
export interface OracleHooks<C> {
  section(cfg: C): OracleSection;
  /** Each output key: its name (parameters `embedding_<name>`, `head_<name>`), channels, loss kind and weight. */
  outputs(cfg: C): readonly OracleOutputInput[];
  /**
   * Where the shipped stage I checkpoint of a preset would be: the demo takes it (as `oracle.checkpoint`) when it
   * exists, else trains the oracle first. Absent: the demo always trains it.
   */
  shipped?(preset: string): string;
}

/**
 * The demo's two evaluated models: on the same `test` images (the headline numbers, the comparison's pictures), and
 * on the same `val` images (where the recipe was chosen), both kept so the two can be told apart.
 */
export interface DemoResults<C, E, Ev> {
  readonly preset: string;
  readonly cfg: C;
  /** The split of `images`, `mle.ev` and `tuned.ev`: `test`. */
  readonly split: Split;
  readonly images: ImageTable<E>;
  readonly mle: { readonly run: RunDir; readonly ev: Ev };
  readonly tuned: { readonly run: RunDir; readonly ev: Ev };
  /** Both models on the validation split. */
  readonly val: { readonly images: ImageTable<E>; readonly mle: Ev; readonly tuned: Ev };
}

export interface TaskAdapter<C extends RunnerConfig, E, P, A, Ev> {
  /** The tool's name, e.g. `task-detection`: the run directories' folder and the messages' prefix. */
  readonly tool: string;
  readonly spec: ConfigSpec<z.ZodType<C>>;
  /**
   * Config keys renamed since runs were saved, old dotted path → new (e.g. `tune.confWeight` → `tune.auxLossWeight`):
   * applied to every config read back from a run directory or a checkpoint, so that older runs still resume.
   */
  readonly movedKeys?: Readonly<Record<string, string>>;
  setUp(cfg: C, outRoot: string): TaskSetup<E, P, A, Ev>;
  /** Where the shipped MLE checkpoint of a preset would be (shippedCheckpoints). */
  shippedCheckpoint(preset: string): string;
  /** The parts of a config that must agree for a (shipped) checkpoint to fit a run's model and data. */
  modelKey(cfg: C): string;
  /** One line on stderr after an evaluation, e.g. `MLE: AP 0.123 …`. */
  summaryLine(name: string, ev: Ev): string;
  /** The evaluation's numbers in --json output (pretrain, tune, eval, and demo's `mle` and `tuned`). */
  jsonStats(ev: Ev): Record<string, unknown>;
  /** Writes the demo's comparison (compare.html and its pictures) into the tuned run; returns the table and page. */
  demoCompare(results: DemoResults<C, E, Ev>): { readonly table: string; readonly page: string };
  /**
   * More keys of the demo's --json line, placed before `mle` and `tuned` (UViM tasks: the oracle's rows, e.g.
   * `oracle` with the true code and `zero_code`). Absent: none.
   */
  demoJson?(results: DemoResults<C, E, Ev>): Record<string, unknown>;
  /**
   * UViM tasks: stage I. With it the runner offers `pretrain-oracle`, and its stage II commands (pretrain, tune,
   * eval, noise, demo) need `oracle.checkpoint`: they check that the stage II model's vocabulary is the dictionary
   * + 1, record the oracle (path and content hash) in each run and checkpoint, and refuse a stage II checkpoint
   * trained over another oracle.
   */
  readonly oracle?: OracleHooks<C>;
  /**
   * The task's CLI script (with its `sampler` command), which `tune.sampler.kind=process` starts as the sampling
   * process. Absent: this process's own script.
   */
  readonly samplerCli?: string;
}

/**
 * `shippedCheckpoint` for checkpoints `<dir>/<preset>-<kind>.safetensors` (kind `mle` by default; a UViM task's stage I
 * and stage II files take their own, e.g. `oracle`); a preset that differs from another only in how it tunes may
 * share that one's (`shared`: preset → the preset whose checkpoint it takes).
 */
export const shippedCheckpoints =
  (dir: string, shared: Readonly<Record<string, string>> = {}, kind = 'mle') =>
  (preset: string): string =>
    path.join(dir, `${shared[preset] ?? preset}-${kind}.safetensors`);
