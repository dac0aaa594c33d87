/**
 * The report's data, taken from a run's records: `metrics.jsonl` parsed back (`parseMetricsJsonl`), the history as
 * it now stands after resumes and restarts (`currentHistory`), and what each chart and table draws: a phase's train
 * and eval records, its reward or loss progression, its held-out metrics, stage I's codebook health, the distributed
 * learner's throughput, the reward distributions and their statistics. No layout (scales.ts) or drawing (svg.ts).
 */
import * as E from 'fp-ts/Either';
import { PHASES, type MetricsRecord, type Phase } from '../loop';
import type { Series } from './scales';
import { PALETTE } from './svg';

export type Train = Extract<MetricsRecord, { kind: 'train' }>;
export type Eval = Extract<MetricsRecord, { kind: 'eval' }>;
export type Dist = Extract<MetricsRecord, { kind: 'distribution' }>;

/**
 * The records of the run as it now stands. A loop resumed from its checkpoint at step s repeats the updates after s
 * that a crash or Ctrl-C may already have logged, and one started afresh in a run directory without a checkpoint
 * repeats everything: so a `resumed` event at step s drops its phase's earlier records past s, and a `start` event
 * all of its phase's earlier records.
 */
export function currentHistory(records: readonly MetricsRecord[]): MetricsRecord[] {
  let out: MetricsRecord[] = [];
  for (const r of records) {
    if (r.kind === 'event' && (r.event === 'resumed' || r.event === 'start')) {
      const keepUpTo = r.event === 'resumed' ? r.step : -Infinity;
      out = out.filter((x) => x.phase !== r.phase || x.step <= keepUpTo);
    }
    out.push(r);
  }
  return out;
}

/** One phase's train and eval records, in log order. */
export interface PhaseRecords {
  readonly phase: Phase;
  readonly train: readonly Train[];
  readonly evals: readonly Eval[];
}

export function phaseRecords(records: readonly MetricsRecord[], phase: Phase): PhaseRecords {
  return {
    phase,
    train: records.filter((r): r is Train => r.kind === 'train' && r.phase === phase),
    evals: records.filter((r): r is Eval => r.kind === 'eval' && r.phase === phase),
  };
}

/** A field of a train record, also one the record type does not name (the distributed learner's throughput). */
const field = (r: Train, key: string): unknown => (r as unknown as Record<string, unknown>)[key];

/** Evaluations are drawn as markers alone while there are too few for a line to say anything. */
const sparse = (evals: readonly Eval[]) => evals.length < 3;

/** The top panel: tuning's mean sample reward and held-out greedy reward; otherwise train and held-out loss. */
export function progressSeries({ phase, train, evals }: PhaseRecords): Series[] {
  if (phase === 'tune')
    return [
      {
        name: 'sample reward (train)',
        color: PALETTE[0],
        points: train.filter((r) => r.rewardMean !== undefined).map((r) => [r.step, r.rewardMean as number]),
      },
      {
        name: 'greedy reward (held-out)',
        color: PALETTE[1],
        points: evals.map((r) => [r.step, r.rewardMean]),
        markersOnly: sparse(evals),
      },
    ];
  return [
    { name: 'loss (train)', color: PALETTE[0], points: train.map((r) => [r.step, r.loss]) },
    {
      name: 'loss (held-out)',
      color: PALETTE[1],
      points: evals.filter((r) => r.loss !== undefined).map((r) => [r.step, r.loss as number]),
      markersOnly: sparse(evals),
    },
  ];
}

/** Every held-out metric name of the evaluations, sorted. */
export function metricKeys(evals: readonly Eval[]): string[] {
  return [...new Set(evals.flatMap((r) => Object.keys(r.metrics)))].sort();
}

/** One series per held-out metric (as logged: −1 and all, for scales.ts to sort out). */
export function metricSeries(evals: readonly Eval[], keys: readonly string[], names: Record<string, string> = {}) {
  return keys.map((k, i): Series => ({
    name: names[k] ?? k,
    color: PALETTE[i % PALETTE.length],
    points: evals.filter((r) => r.metrics[k] !== undefined).map((r) => [r.step, r.metrics[k]]),
    markersOnly: sparse(evals),
  }));
}

/** Stage I's held-out codebook health: perplexity (in codes) and shares (in [0, 1]), each on its own chart. */
export const ORACLE_PERPLEXITY: Readonly<Record<string, string>> = {
  perplexity: 'held-out code',
  emaPerplexity: 'EMA counts',
};
export const ORACLE_SHARES: Readonly<Record<string, string>> = {
  unusedFraction: 'unused codes (held-out)',
  maxShare: 'most used code (held-out)',
  emaMaxShare: 'most used code (EMA counts)',
};

/** Stage I's perplexity chart: the training batches' code (a line) beside the held-out and EMA perplexities. */
export function oraclePerplexitySeries(p: PhaseRecords): Series[] {
  const batch: Series = {
    name: 'batch code (train)',
    color: PALETTE[2],
    points: p.train.filter((r) => r.batchPerplexity !== undefined).map((r) => [r.step, r.batchPerplexity as number]),
  };
  const held = metricSeries(p.evals, Object.keys(ORACLE_PERPLEXITY), ORACLE_PERPLEXITY);
  return [batch, ...held].filter((s) => s.points.length > 0);
}

/** The running total of a train record's number field (e.g. stage I's `splits`: dead codes split at the step). */
export function cumulative(train: readonly Train[], key: string): Series['points'] {
  let total = 0;
  return train.flatMap((r) => {
    const v = field(r, key);
    if (typeof v !== 'number') return [];
    total += v;
    return [[r.step, total] as const];
  });
}

/** The learner's throughput per update, each quantity for its own chart. */
export interface ThroughputSeries {
  /** Rollouts per second: all actors, and each actor when there are several. */
  readonly rollouts: readonly Series[];
  /** The share of the wall time the learner has spent waiting for rollouts (since it started). */
  readonly idle: readonly Series[];
  /** Rollout jobs waiting in the queue at each update. */
  readonly queue: readonly Series[];
}

/** The throughput the distributed learner adds to each train record; undefined for a run without it. */
export function throughputSeries(train: readonly Train[]): ThroughputSeries | undefined {
  const num = (key: string): Series['points'] =>
    train.filter((r) => typeof field(r, key) === 'number').map((r) => [r.step, field(r, key) as number]);
  const rollouts = num('rolloutsPerSec');
  const idle = num('idleShare');
  const queue = num('queueDepth');
  if (rollouts.length === 0 && idle.length === 0 && queue.length === 0) return undefined;
  const actorIds = [
    ...new Set(
      train.flatMap((r) => {
        const a = field(r, 'actors');
        return typeof a === 'object' && a !== null ? Object.keys(a) : [];
      }),
    ),
  ].sort();
  const perActor: Series[] =
    actorIds.length < 2
      ? []
      : actorIds.map((id, i) => ({
          name: `actor ${id}`,
          color: PALETTE[(i + 1) % PALETTE.length],
          points: train.flatMap((r) => {
            const v = (field(r, 'actors') as Record<string, unknown> | undefined)?.[id];
            return typeof v === 'number' ? [[r.step, v] as const] : [];
          }),
        }));
  const one = (name: string, points: Series['points']): Series[] =>
    points.length > 0 ? [{ name, color: PALETTE[0], points }] : [];
  return {
    rollouts: [...one('all actors', rollouts), ...perActor],
    idle: one('learner idle share', idle),
    queue: one('jobs queued', queue),
  };
}

/** The MLE policy's (`start`) and the tuned policy's (`end`, the last logged) per-sample rewards. */
export function rewardDistributions(records: readonly MetricsRecord[]): { start?: Dist; end?: Dist } {
  const start = records.find((r): r is Dist => r.kind === 'distribution' && r.label === 'start');
  const end = [...records].reverse().find((r): r is Dist => r.kind === 'distribution' && r.label === 'end');
  return { start, end };
}

/** The highest ⌈1%⌉ of the values (at least one), ascending. */
export function topPercent(values: readonly number[], percent = 1): number[] {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const k = Math.max(1, Math.ceil((sorted.length * percent) / 100));
  return sorted.slice(Math.max(0, sorted.length - k));
}

/** Linear-interpolated quantile q ∈ [0, 1] (numpy's default). */
export function quantile(values: readonly number[], q: number): number {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = q * (s.length - 1);
  const i = Math.floor(pos);
  return i + 1 < s.length ? s[i] + (pos - i) * (s[i + 1] - s[i]) : s[i];
}

const KINDS = new Set(['train', 'eval', 'distribution', 'event']);

/** Parses `metrics.jsonl` (one record a line; blank lines skipped); Left names the file, line and field. */
export function parseMetricsJsonl(text: string, file = 'metrics.jsonl'): E.Either<string, MetricsRecord[]> {
  const out: MetricsRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const where = `${file}:${i + 1}`;
    let rec: unknown;
    try {
      rec = JSON.parse(lines[i]);
    } catch {
      return E.left(`${where}: not valid JSON`);
    }
    if (typeof rec !== 'object' || rec === null) return E.left(`${where}: expected an object`);
    const r = rec as Record<string, unknown>;
    if (typeof r.kind !== 'string' || !KINDS.has(r.kind))
      return E.left(`${where}: field 'kind' must be one of ${[...KINDS].join(', ')}`);
    if (!(PHASES as readonly unknown[]).includes(r.phase))
      return E.left(`${where}: field 'phase' must be one of ${PHASES.map((p) => `'${p}'`).join(', ')}`);
    if (typeof r.step !== 'number') return E.left(`${where}: field 'step' must be a number`);
    if (r.kind === 'eval' && (typeof r.metrics !== 'object' || r.metrics === null))
      return E.left(`${where}: field 'metrics' must be an object`);
    if (r.kind === 'distribution' && !Array.isArray(r.rewards))
      return E.left(`${where}: field 'rewards' must be an array`);
    out.push(r as unknown as MetricsRecord);
  }
  return E.right(out);
}
