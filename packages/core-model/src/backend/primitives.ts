/**
 * The primitives model code uses where the backends differ, so that ops and optimizers stay backend-agnostic: the
 * matMul that avoids wasm's slow transpose flags and batched kernel (flag-free, with its own gradient), custom
 * gradients whose intermediates are freed early (`customOp`), sums that respect WebGPU's binding limit (`addMany`),
 * column sums as a matMul (`sumRows`), one position of a key-value cache written (`writePosition`), and the one tensor
 * read that works on every backend (`readTensor`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { nativeMatMulActive } from './native-matmul';
import { wasmBackend } from './wasm-internals';
import { webgpuErrors } from './webgpu-internals';

// matMul without transpose flags: wasm's own flagged and batched matMuls are 10–20× slower than an explicit
// transpose plus its un-flagged kernel; the native kernel of native-matmul.ts, when active, takes the flags at no cost.

const swapLast = (t: tf.Tensor): tf.Tensor => {
  const perm = t.shape.map((_, i) => i);
  [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1], perm[perm.length - 2]];
  return tf.transpose(t, perm);
};

/**
 * a @ b with optional transposes, the way each backend does it fastest: on wasm with its own kernels explicit
 * transposes plus an un-flagged matMul, elsewhere (and with the native kernel) tf.matMul's own flags. Not
 * differentiable by itself on wasm in a useful way: use it inside custom gradients, and `matMul` in model code.
 */
export function matMulT(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  if (tf.getBackend() === 'wasm' && !nativeMatMulActive())
    return tf.matMul(transposeA ? swapLast(a) : a, transposeB ? swapLast(b) : b);
  return tf.matMul(a, b, transposeA, transposeB);
}

/**
 * tf.customGrad with both passes inside tf.tidy. Without it tfjs keeps every intermediate of a custom op (and of
 * its gradient) alive until the whole gradient computation ends, which on wasm's 4 GiB heap decides the batch size.
 * `forward` returns the value and the tensors `backward` needs; `backward` returns one gradient per input.
 */
export function customOp<A extends tf.Tensor[]>(
  forward: (...inputs: A) => { value: tf.Tensor; saved: tf.Tensor[] },
  backward: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[],
): (...inputs: A) => tf.Tensor {
  const f = tf.customGrad(((...args: unknown[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const out = tf.tidy(() => {
      const r = forward(...(args as A));
      return [r.value, ...r.saved];
    });
    save(out.slice(1));
    return { value: out[0], gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => backward(dy, saved)) };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f as unknown as (...inputs: A) => tf.Tensor;
}

/**
 * a @ b (same rank ≥ 2, equal batch dimensions) whose forward and backward use only un-flagged matMuls plus explicit
 * transposes on wasm: dA = dY @ bᵀ, dB = aᵀ @ dY.
 */
export const flagFreeMatMul: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor = customOp(
  (a: tf.Tensor, b: tf.Tensor) => ({ value: tf.matMul(a, b), saved: [a, b] }),
  (dy, [a, b]) => [matMulT(dy, b, false, true), matMulT(a, dy, true, false)],
);

/**
 * The matMul every model op uses: a @ b for rank-2, -3 or -4 operands with equal batch dimensions. On wasm it is the
 * flag-free custom-gradient version; elsewhere plain tf.matMul (whose flagged kernels are fast on GPUs).
 */
export function matMul(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.getBackend() === 'wasm' ? flagFreeMatMul(a, b) : tf.matMul(a, b);
}

/**
 * Σ of same-shape tensors as tf.addN over groups of at most 7, then over the groups' sums. WebGPU binds each input as
 * a storage buffer, adapters may allow only 8 per shader stage (lavapipe does), and tfjs-backend-webgpu's addN does
 * not split: 50 gradients' norms in one addN make an invalid pipeline, and every later command buffer with it.
 */
export function addMany(tensors: readonly tf.Tensor[]): tf.Tensor {
  if (tensors.length === 0) throw new RangeError('addMany needs at least one tensor');
  let level = [...tensors];
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += 7) {
      const group = level.slice(i, i + 7);
      next.push(group.length === 1 ? group[0] : tf.addN(group));
    }
    level = next;
  }
  return level[0];
}

/** Column sums of x [N, D] → [D] as ones[1, N] @ x: on wasm 20× faster than tf.sum(x, 0). */
export function sumRows(x: tf.Tensor2D): tf.Tensor1D {
  return tf.reshape(tf.matMul(tf.ones([1, x.shape[0]]), x), [x.shape[1]]);
}

/**
 * `cache` [B, H, X, Y] with position t of `axis` (2 or 3) set to `update` ([B, H, 1, Y] or [B, H, X, 1]): a key-value
 * cache written one position per decoding step. `mask` is that position's one-hot, shaped to broadcast along `axis`
 * ([1, 1, X, 1] or [1, 1, 1, Y]); position t must hold zeros before the call (each position is written once).
 *
 * Consumes `cache`: the caller disposes it after the call and never reads it again. On wasm, when `cache` is the only
 * owner of its buffer, the update is written into that buffer and the result shares it (B·H·X or B·H·Y values moved,
 * where cache + mask·update makes two passes over the whole cache every step). Elsewhere, or when the buffer is
 * shared, cache + mask·update: the same value (0 + u = u, c + 0·u = c for finite u), and the same kernel shapes at
 * every step, which WebGPU's compiled pipelines need.
 */
export function writePosition(
  cache: tf.Tensor4D,
  update: tf.Tensor4D,
  t: number,
  axis: 2 | 3,
  mask: tf.Tensor4D,
): tf.Tensor4D {
  const [b, h, x, y] = cache.shape;
  const along = axis === 2 ? x : y;
  const expected = axis === 2 ? [b, h, 1, y] : [b, h, x, 1];
  if (!(Number.isInteger(t) && t >= 0 && t < along) || update.shape.some((d, i) => d !== expected[i]))
    throw new RangeError(
      `writePosition: position ${t} of axis ${axis} of [${cache.shape}] from [${update.shape}], expected [${expected}]`,
    );
  const backend = tf.getBackend() === 'wasm' ? wasmBackend(tf.backend()) : undefined;
  const inPlace =
    backend !== undefined &&
    cache.dtype === 'float32' &&
    update.dtype === 'float32' &&
    backend.refCount(cache.dataId) === 1;
  if (!inPlace) return tf.add(cache, tf.mul(mask, update));
  const dst = backend.typedArrayFromHeap(cache) as Float32Array;
  const src = backend.typedArrayFromHeap(update) as Float32Array;
  if (axis === 3) {
    for (let i = 0, n = b * h * x; i < n; i++) dst[i * y + t] = src[i];
  } else {
    for (let i = 0, n = b * h; i < n; i++) dst.set(src.subarray(i * y, (i + 1) * y), (i * x + t) * y);
  }
  return tf.reshape(cache, cache.shape); // shares the buffer (wasm's Reshape counts the reference)
}

/** Reads a tensor's values. Always `await t.data()`: dataSync()/arraySync() do not work on webgpu in Node. */
export async function readTensor<T extends tf.Tensor>(t: T): Promise<tf.TypedArray> {
  const values = (await t.data()) as tf.TypedArray;
  // A WebGPU validation or out-of-memory error makes later results garbage without failing anything: stop here.
  const errors = webgpuErrors();
  if (errors !== null) throw new Error(`WebGPU reported ${errors.count} error(s); the first: ${errors.first}`);
  return values;
}
