/**
 * The worker threads of a data-parallel bench (`bench --data-parallel`): ranks 1..n−1, each a worker thread that
 * loads the package's bundled library and runs its `benchWorker` (bench.ts) on the workerData given here, while the
 * main thread is rank 0. Each answers with its backend's start-up line, or fails; a failure aborts the group (in the
 * thread itself), so that no rank waits for ever at a barrier.
 */
import { Worker } from 'node:worker_threads';
import { abortGroupSource, GROUP_ABORTED, type GradientGroup } from './optim/data-parallel';

/** What a worker answers when its rank has finished. */
export interface BenchWorkerReply {
  readonly detail: string;
}

/**
 * A rank's worker thread: loads the library and runs its benchWorker; any failure, loading included, aborts the
 * group before it ends the thread (rank 0 may be blocked at a barrier, where it cannot see the thread end).
 */
const WORKER_SOURCE = `const { workerData } = require('node:worker_threads');
Promise.resolve()
  .then(() => require(workerData.library).benchWorker())
  .catch((err) => { ${abortGroupSource('workerData.memory')} throw err; });`;

export class BenchWorkers {
  private readonly replies: Promise<string | null>[] = [];
  private readonly errors: Error[] = [];
  private group: GradientGroup | undefined;

  /** Starts ranks 1..ranks−1 of `group`, each running `library`'s benchWorker with `data` and its rank. */
  start(library: string, ranks: number, data: object, group: GradientGroup): void {
    this.group = group;
    for (let rank = 1; rank < ranks; rank++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { ...data, library, rank } });
      const reply = new Promise<string>((resolve, reject) => {
        w.once('message', (m: BenchWorkerReply) => resolve(m.detail));
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`bench rank ${rank} exited with code ${code} before answering`)));
      });
      // Settled here, so that a rank failing while rank 0 computes is never an unhandled rejection.
      this.replies.push(
        reply.catch((err: unknown) => {
          this.errors.push(err instanceof Error ? err : new Error(String(err)));
          group.abort();
          return null;
        }),
      );
    }
  }

  /**
   * After rank 0 failed: stops the other ranks, and gives the error of a worker that failed on its own (rather than
   * because the group was aborted), if one did: then rank 0's error was the abort it caused.
   */
  async failure(): Promise<Error | undefined> {
    this.group?.abort();
    await Promise.all(this.replies);
    return this.errors.find((e) => !e.message.includes(GROUP_ABORTED));
  }

  /** Every worker's backend line, once all have answered; the first error when one failed. */
  async finish(): Promise<string[]> {
    const replies = await Promise.all(this.replies);
    if (this.errors.length > 0) throw this.errors[0];
    return replies as string[];
  }
}
