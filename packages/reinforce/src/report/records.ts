/**
 * The report's data, taken from a run's records: `metrics.jsonl` parsed back (`parseMetricsJsonl`), the history as
 * it now stands after resumes and restarts (`currentHistory`), and the statistics of the reward distributions.
 */
import * as E from 'fp-ts/Either';
import { PHASES, type MetricsRecord } from '../loop';

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
