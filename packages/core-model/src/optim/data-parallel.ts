/**
 * Data parallelism across the threads of one process: each of `size` ranks (the main thread and worker threads, each
 * with its own tfjs and its own copy of the parameters) computes the gradient of its share of the batch, and
 * `GradientGroup.average` gives every rank the same mean of those gradients, so that each applies the same update
 * and the copies stay equal bit for bit. The gradients meet in one SharedArrayBuffer: each rank copies its own into
 * its slot, then averages one contiguous share of every slot into a common result (a reduce-scatter: the sums are
 * split between the ranks, not repeated), then reads the whole result. Every element is summed in rank order
 * ((g0 + g1) + g2 …) and divided by `size`, whichever rank computes it.
 *
 * Why threads and not one process with a threaded GEMM: on a CPU the matrix products parallelise inside the GEMM,
 * but the ~1,900 other kernels of a training step (softmax, layer norm, elementwise) run on one thread in tfjs; a
 * rank per core runs all of them in parallel. The cost: the parameters, optimizer state and the backend's memory
 * once per rank, and the sum's order differs from one pass over the whole batch (so the bits of a run depend on
 * `size`; with equal shares the mean is the whole batch's, up to rounding).
 *
 * Synchronisation: two barriers per call (after the copies, after the sums); the next call's copies cannot overwrite
 * a slot another rank still sums, since every rank has passed the second barrier first, nor the result before every
 * rank has read it, since no rank writes a slot before it has. A rank that fails calls `abort()`, and every other
 * rank's waiting barrier throws instead of waiting for ever.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readTensor } from '../backend/primitives';
import { wasmBackend } from '../backend/wasm-internals';

/** The shared memory of one group; make it once (`createGroupMemory`) and hand it to every rank's `GradientGroup`. */
export interface GroupMemory {
  readonly size: number;
  /** Gradient values per rank: the sum of the parameters' sizes. */
  readonly length: number;
  /** `size` slots and the result, `length` float32 values each. */
  readonly values: SharedArrayBuffer;
  /** [0] arrivals at barriers so far, [1] abort flag. */
  readonly control: SharedArrayBuffer;
}

export function createGroupMemory(size: number, length: number): GroupMemory {
  if (!Number.isInteger(size) || size < 1) throw new Error(`data-parallel group: size must be ≥ 1, got ${size}`);
  return {
    size,
    length,
    values: new SharedArrayBuffer(4 * length * (size + 1)),
    control: new SharedArrayBuffer(8),
  };
}

/** The message of the error a barrier throws once another rank has aborted the group. */
export const GROUP_ABORTED = 'data-parallel group: another rank failed';

const ARRIVED = 0;
const ABORTED = 1;
/** How often a waiting rank looks at the abort flag (ms). */
const ABORT_POLL_MS = 200;

export class GradientGroup {
  private readonly slots: Float32Array[];
  private readonly result: Float32Array;
  private readonly control: Int32Array;
  private barriers = 0;

  constructor(
    private readonly memory: GroupMemory,
    readonly rank: number,
  ) {
    if (!Number.isInteger(rank) || rank < 0 || rank >= memory.size) {
      throw new Error(`data-parallel group: rank ${rank} is not in 0..${memory.size - 1}`);
    }
    const n = memory.length;
    this.slots = Array.from({ length: memory.size }, (_, r) => new Float32Array(memory.values, 4 * n * r, n));
    this.result = new Float32Array(memory.values, 4 * n * memory.size, n);
    this.control = new Int32Array(memory.control);
  }

  get size(): number {
    return this.memory.size;
  }

  /**
   * The mean over the ranks of each gradient, in `order` (the same names on every rank); new tensors, the inputs are
   * left as they are. Every rank must call it, with gradients of the same shapes, one call at a time.
   */
  async average(grads: ReadonlyMap<string, tf.Tensor>, order: readonly string[]): Promise<Map<string, tf.Tensor>> {
    const mine = this.slots[this.rank];
    let offset = 0;
    for (const name of order) {
      const g = grads.get(name);
      if (g === undefined) throw new Error(`data-parallel group: no gradient for '${name}'`);
      if (offset + g.size > mine.length) throw new Error(`data-parallel group: gradients exceed ${mine.length} values`);
      mine.set(await values(g), offset);
      offset += g.size;
    }
    if (offset !== mine.length) {
      throw new Error(`data-parallel group: gradients hold ${offset} values, the group ${mine.length}`);
    }
    this.barrier();
    const { size, length } = this.memory;
    const from = Math.floor((length * this.rank) / size);
    const to = Math.floor((length * (this.rank + 1)) / size);
    const result = this.result;
    if (size === 2) {
      const [a, b] = this.slots; // the usual case, in one pass
      for (let i = from; i < to; i++) result[i] = (a[i] + b[i]) / 2;
    } else {
      // Slot by slot (a loop over the slots inside the loop over the values ran several times slower).
      result.set(this.slots[0].subarray(from, to), from);
      for (let r = 1; r < size; r++) {
        const slot = this.slots[r];
        for (let i = from; i < to; i++) result[i] += slot[i];
      }
      for (let i = from; i < to; i++) result[i] /= size;
    }
    this.barrier();
    const out = new Map<string, tf.Tensor>();
    // wasm copies a new tensor's values into its heap; other backends may keep the array itself, which the next
    // call overwrites.
    const copied = tf.getBackend() === 'wasm';
    offset = 0;
    for (const name of order) {
      const g = grads.get(name)!;
      const v = this.result.subarray(offset, offset + g.size);
      out.set(name, tf.tensor(copied ? v : v.slice(), g.shape, 'float32'));
      offset += g.size;
    }
    return out;
  }

  /** Waits until every rank has arrived at the same barrier (the group-wide count of arrivals is a multiple). */
  barrier(): void {
    this.barriers++;
    const target = this.barriers * this.memory.size;
    const arrived = Atomics.add(this.control, ARRIVED, 1) + 1;
    if (arrived === target) {
      Atomics.notify(this.control, ARRIVED);
      return;
    }
    for (;;) {
      if (Atomics.load(this.control, ABORTED) !== 0) throw new Error(GROUP_ABORTED);
      const now = Atomics.load(this.control, ARRIVED);
      if (now >= target) return;
      Atomics.wait(this.control, ARRIVED, now, ABORT_POLL_MS);
    }
  }

  /** Makes every other rank's barrier throw (call it when this rank cannot go on). */
  abort(): void {
    Atomics.store(this.control, ABORTED, 1);
    Atomics.notify(this.control, ARRIVED);
  }
}

/**
 * JavaScript that aborts the group whose GroupMemory the expression `memory` names: for a worker thread's wrapper,
 * which may fail before it has a GradientGroup (its code failed to load, say) and must still release the others.
 */
export const abortGroupSource = (memory: string): string =>
  `{ const c = new Int32Array(${memory}.control); Atomics.store(c, ${ABORTED}, 1); Atomics.notify(c, ${ARRIVED}); }`;

/** A tensor's values: a view of the wasm heap where they live there (no copy), else a copy. */
async function values(t: tf.Tensor): Promise<tf.TypedArray> {
  return tf.getBackend() === 'wasm' ? wasmBackend(tf.backend()).typedArrayFromHeap(t) : readTensor(t);
}
