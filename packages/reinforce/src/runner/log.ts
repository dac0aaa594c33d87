// What the task commands print besides their results: one line on stderr (stdout is kept for --json), and progress
// bars for loading work.
import { Progress } from '@reward-tune/core-model';

/** One line on stderr (stdout is kept for --json). */
export const logLine = (msg: string): void => void process.stderr.write(`${msg}\n`);

/** A progress bar for loading work (images, batches); silent for fewer than 200 items. */
export function loadCounter(label: string): (done: number, total: number) => void {
  let bar: Progress | undefined;
  return (done, total) => {
    if (total < 200) return;
    bar ??= new Progress({ label, total, every: Math.ceil(total / 10) });
    bar.update(done);
    if (done === total) bar.finish();
  };
}
