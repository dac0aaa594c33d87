/**
 * Training progress on stderr, no dependency. On a TTY: one redrawn line
 *   `tune [██████░░░░░░░░░░░░░░]  120/1000  3.20 step/s  ETA 4m35s  reward=0.532  loss=1.23`
 * Elsewhere (CI logs, files): one JSON object per line every `every` steps and at the end,
 *   {"progress":"tune","step":120,"total":1000,"steps_per_s":3.2,"eta_s":275,"reward":0.532}
 * so logs stay small and machine-readable. Rates count from the first step this process saw (resumed runs
 * start at their saved step).
 */

export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface ProgressOptions {
  readonly label: string;
  readonly total: number;
  /** The step a resumed run starts from (default 0). */
  readonly startStep?: number;
  /** Default process.stderr. */
  readonly stream?: ProgressStream;
  /** Force TTY or JSON-line mode (default: the stream's isTTY). */
  readonly tty?: boolean;
  /** JSON mode: emit a line every this many steps (default 10). */
  readonly every?: number;
  /** TTY mode: redraw at most this often (default 100 ms). */
  readonly minRedrawMs?: number;
  /** Milliseconds clock (tests pass a fake one). */
  readonly now?: () => number;
}

const BAR = 20;

/** `45s`, `4m35s`, `2h03m`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const formatValue = (v: number): string => (Number.isFinite(v) ? String(Number(v.toPrecision(4))) : String(v));

export class Progress {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly every: number;
  private readonly minRedrawMs: number;
  private readonly now: () => number;
  private readonly t0: number;
  private readonly step0: number;
  private lastDraw = -Infinity;
  private lastStep: number;
  private values: Readonly<Record<string, number>> = {};

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.tty = options.tty ?? this.stream.isTTY === true;
    this.every = Math.max(1, Math.floor(options.every ?? 10));
    this.minRedrawMs = options.minRedrawMs ?? 100;
    this.now = options.now ?? (() => performance.now());
    this.t0 = this.now();
    this.step0 = options.startStep ?? 0;
    this.lastStep = this.step0;
  }

  /** Reports that `step` steps are done, with the latest named values (reward, loss, ...). */
  update(step: number, values?: Readonly<Record<string, number>>): void {
    this.lastStep = step;
    if (values !== undefined) this.values = values;
    if (this.tty) {
      const t = this.now();
      if (t - this.lastDraw < this.minRedrawMs && step < this.options.total) return;
      this.lastDraw = t;
      this.stream.write(`\r\x1b[2K${this.line()}`);
    } else if (step % this.every === 0 || step >= this.options.total) {
      this.stream.write(`${JSON.stringify(this.record())}\n`);
    }
  }

  /** Ends the display: a final redraw and newline on a TTY, a final JSON line otherwise (if not just written). */
  finish(): void {
    if (this.tty) this.stream.write(`\r\x1b[2K${this.line()}\n`);
    else if (this.lastStep % this.every !== 0 && this.lastStep < this.options.total)
      this.stream.write(`${JSON.stringify(this.record())}\n`);
  }

  private rate(): number {
    const dt = (this.now() - this.t0) / 1000;
    return dt > 0 ? (this.lastStep - this.step0) / dt : 0;
  }

  private record(): Record<string, number | string | null> {
    const rate = this.rate();
    const eta = rate > 0 ? (this.options.total - this.lastStep) / rate : null;
    return {
      progress: this.options.label,
      step: this.lastStep,
      total: this.options.total,
      steps_per_s: Number(rate.toPrecision(4)),
      eta_s: eta === null ? null : Math.round(eta),
      ...this.values,
    };
  }

  /** The TTY line, cut to the terminal width. */
  line(): string {
    const { total, label } = this.options;
    const frac = total > 0 ? Math.min(1, Math.max(0, this.lastStep / total)) : 0;
    const filled = Math.round(frac * BAR);
    const rate = this.rate();
    const eta = rate > 0 ? formatDuration((total - this.lastStep) / rate) : '?';
    const width = String(total).length;
    const parts = [
      `${label} [${'█'.repeat(filled)}${'░'.repeat(BAR - filled)}]`,
      `${String(this.lastStep).padStart(width)}/${total}`,
      `${rate.toFixed(2)} step/s`,
      `ETA ${eta}`,
      ...Object.entries(this.values).map(([k, v]) => `${k}=${formatValue(v)}`),
    ];
    const text = parts.join('  ');
    const columns = this.stream.columns;
    return columns !== undefined && text.length > columns ? text.slice(0, Math.max(0, columns - 1)) : text;
  }
}
