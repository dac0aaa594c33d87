/**
 * Native matrix products for the wasm backend. tfjs's wasm BatchMatMul (XNNPACK through 128-bit wasm SIMD) reaches
 * 4–15 GFLOP/s here, and matrix products are ~75 % of a training step; a native single-threaded GEMM (AVX2/AVX-512)
 * reaches 35–50 GFLOP/s on the same shapes. onnxruntime-node ships such a GEMM (MLAS) as prebuilt binaries inside its
 * npm package, so it installs with `npm ci` and nothing else. When that optional package loads, this module replaces
 * the wasm backend's BatchMatMul by one that hands the operands to onnxruntime in place — typed-array views of the
 * wasm heap, no copies in — and lets it write the product straight into the output tensor's wasm memory.
 *
 * Each call runs a one-node ONNX graph (`com.microsoft` FusedMatMul: numpy-broadcast batched matMul with transpose
 * flags, so flagged products need no explicit transpose) with dynamic shapes, on onnxruntime's synchronous native
 * session (tfjs kernels are synchronous; the package's public `run` is a Promise around the same call). One intra-op
 * thread by default: the comparison with PyTorch in the README is thread for thread, and two processes share this
 * machine's two cores in the tests; `REWARD_TUNE_NATIVE_MATMUL=N` gives it N threads, and `0` turns it off (wasm's own
 * kernels then run everything, as before).
 *
 * Relies on onnxruntime-node 1.30's `dist/binding` (pinned in package.json); `native-matmul.spec.ts` checks the
 * products, flags, broadcasting and gradients against a naive product.
 */
import * as tf from '@tensorflow/tfjs-core';
import { firstLine, UsageError } from '../command-line';
import { isMainThread } from 'node:worker_threads';
import { lazyRequire } from './optional-require';
import { replaceWasmKernel, wasmBackend } from './wasm-internals';

// ---------------------------------------------------------------------------------------------------------------
// The ONNX model: protobuf written by hand (field numbers from onnx.proto; no protobuf library needed for 5 messages)

const varint = (v: number): number[] => {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
};
const intField = (field: number, v: number): number[] => [...varint(field << 3), ...varint(v)];
const bytesField = (field: number, b: number[]): number[] => [...varint((field << 3) | 2), ...varint(b.length), ...b];
const strField = (field: number, s: string): number[] => bytesField(field, [...Buffer.from(s, 'utf8')]);

/** ValueInfoProto: a float32 tensor of unknown rank and shape (TypeProto.tensor_type with elem_type FLOAT only). */
const floatTensorInfo = (name: string): number[] => [
  ...strField(1, name),
  ...bytesField(2, bytesField(1, intField(1, 1))),
];

/** AttributeProto of type INT (2). */
const intAttr = (name: string, v: number): number[] => [...strField(1, name), ...intField(3, v), ...intField(20, 2)];

/** ModelProto of Y = FusedMatMul(A, B; transA, transB), IR version 8, opsets ai.onnx 17 and com.microsoft 1. */
export function fusedMatMulModel(transA: boolean, transB: boolean): Uint8Array {
  const node = [
    ...strField(1, 'A'),
    ...strField(1, 'B'),
    ...strField(2, 'Y'),
    ...strField(4, 'FusedMatMul'),
    ...bytesField(5, intAttr('transA', transA ? 1 : 0)),
    ...bytesField(5, intAttr('transB', transB ? 1 : 0)),
    ...strField(7, 'com.microsoft'),
  ];
  const graph = [
    ...bytesField(1, node),
    ...strField(2, 'matmul'),
    ...bytesField(11, floatTensorInfo('A')),
    ...bytesField(11, floatTensorInfo('B')),
    ...bytesField(12, floatTensorInfo('Y')),
  ];
  const opset = (domain: string, version: number) => bytesField(8, [...strField(1, domain), ...intField(2, version)]);
  return Uint8Array.from([...intField(1, 8), ...opset('', 17), ...opset('com.microsoft', 1), ...bytesField(7, graph)]);
}

// ---------------------------------------------------------------------------------------------------------------
// onnxruntime-node, loaded lazily

/**
 * What the native binding reads of a tensor (its fields, not onnxruntime-common's Tensor class: that class checks
 * `instanceof Float32Array`, which fails for arrays made in another realm, e.g. a Jest sandbox).
 */
interface OrtTensor {
  readonly type: 'float32';
  readonly dims: readonly number[];
  readonly data: Float32Array;
  readonly location: 'cpu';
}
const tensor = (data: Float32Array, dims: readonly number[]): OrtTensor => ({
  type: 'float32',
  dims,
  data,
  location: 'cpu',
});
interface OrtSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, OrtTensor>, fetches: Record<string, OrtTensor>, options: object): unknown;
}
type TensorConstructor = new (type: string, data: unknown, dims: readonly number[]) => object;
interface OrtBinding {
  InferenceSession: new () => OrtSession;
  initOrtOnce(logLevel: number, tensorConstructor: TensorConstructor, isMainThread: boolean): void;
}

export interface NativeMatMul {
  /** `onnxruntime-node <version>, <n> thread(s)`, for the backend's log line. */
  readonly detail: string;
  /** y = op(a) @ op(b) over views of float32 memory; shapes as tfjs gives them (batch dimensions broadcast). */
  run(
    a: Float32Array,
    aShape: readonly number[],
    b: Float32Array,
    bShape: readonly number[],
    transA: boolean,
    transB: boolean,
    y: Float32Array,
    yShape: readonly number[],
  ): void;
}

/**
 * REWARD_TUNE_NATIVE_MATMUL: how many threads the native GEMM uses when onnxruntime-node is installed; unset means 1,
 * `0` turns it off. Anything but a non-negative integer is a usage error.
 */
export function nativeMatMulThreads(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.REWARD_TUNE_NATIVE_MATMUL;
  if (v === undefined || v === '') return 1;
  if (!/^\d+$/.test(v))
    throw new UsageError(
      `REWARD_TUNE_NATIVE_MATMUL must be a thread count (0 turns the native matMul off), got ${JSON.stringify(v)}`,
    );
  return Number(v);
}

/** Loads onnxruntime-node and builds the four sessions (transpose flags); a reason string when it cannot. */
export function loadNativeMatMul(threads = 1): NativeMatMul | string {
  let native: OrtBinding, version: string;
  try {
    const ort = lazyRequire('onnxruntime-node') as { Tensor: TensorConstructor };
    native = (lazyRequire('onnxruntime-node/dist/binding') as { binding: OrtBinding }).binding;
    version = (lazyRequire('onnxruntime-node/package.json') as { version: string }).version;
    // The binding builds each result with this constructor. Ours are ignored (the product is already in the buffer
    // handed in), but the process may also use onnxruntime-node itself: so the package's own Tensor, or a plain
    // object where that class refuses arrays from another realm (the binding's arrays, in a Jest sandbox).
    function ResultTensor(type: string, data: unknown, dims: readonly number[]): object {
      try {
        return new ort.Tensor(type, data, dims);
      } catch {
        return { type, data, dims };
      }
    }
    native.initOrtOnce(2 /* warnings */, ResultTensor as unknown as TensorConstructor, isMainThread);
  } catch (e) {
    return `onnxruntime-node not loadable (${firstLine(e)})`;
  }
  const options = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Pool threads would otherwise spin between products, taking the core the JS thread needs for everything else.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  const sessions: OrtSession[] = [];
  try {
    for (const [ta, tb] of [
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ]) {
      const s = new native.InferenceSession();
      const m = fusedMatMulModel(ta, tb);
      s.loadModel(m.buffer, m.byteOffset, m.byteLength, options);
      sessions.push(s);
    }
  } catch (e) {
    // E.g. a later onnxruntime that no longer knows FusedMatMul: wasm's kernels then run everything.
    return `onnxruntime-node ${version} refused the matMul graph (${firstLine(e)})`;
  }
  return {
    detail: `onnxruntime-node ${version}, ${threads} thread${threads === 1 ? '' : 's'}`,
    run(a, aShape, b, bShape, transA, transB, y, yShape) {
      const s = sessions[(transA ? 2 : 0) + (transB ? 1 : 0)];
      s.run({ A: tensor(a, aShape), B: tensor(b, bShape) }, { Y: tensor(y, yShape) }, {});
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The kernel

/** Products smaller than this many multiply-adds stay on wasm's kernel: onnxruntime's ~30 µs per call wins there. */
export const NATIVE_MATMUL_MIN_WORK = 16384;

let nativeCalls = 0;
let active: NativeMatMul | null = null;

/** How many products the native kernel has run in this process (for tests and profiling). */
export const nativeMatMulCount = (): number => nativeCalls;
/** True once the native kernel is registered: flagged matMuls are then as fast as plain ones on wasm. */
export const nativeMatMulActive = (): boolean => active !== null;

/**
 * Registers the native BatchMatMul for wasm (wrapping whatever kernel is registered now, which keeps every case the
 * native one declines: other dtypes, empty or small products). Returns the log detail, or why it is not used.
 */
export function registerNativeMatMul(wasmThreads: number): { ok: true; detail: string } | { ok: false; why: string } {
  if (active !== null) return { ok: true, detail: active.detail };
  const threads = nativeMatMulThreads();
  if (threads === 0) return { ok: false, why: 'off (REWARD_TUNE_NATIVE_MATMUL=0)' };
  // The threaded build's heap is a SharedArrayBuffer, which the binding does not accept as tensor memory.
  if (wasmThreads > 1) return { ok: false, why: 'not used with the threaded wasm build' };
  const loaded = loadNativeMatMul(threads);
  if (typeof loaded === 'string') return { ok: false, why: loaded };
  const gemm = loaded;
  const replaced = replaceWasmKernel('BatchMatMul', (previous) => (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const ra = a.shape.length,
      rb = b.shape.length;
    const m = a.shape[transposeA ? ra - 1 : ra - 2],
      k = a.shape[transposeA ? ra - 2 : ra - 1];
    const kb = b.shape[transposeB ? rb - 1 : rb - 2],
      n = b.shape[transposeB ? rb - 2 : rb - 1];
    // tf.matMul has checked that the batch dimensions broadcast; this is the output's.
    const batch = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    if (
      a.dtype !== 'float32' ||
      b.dtype !== 'float32' ||
      k !== kb ||
      tf.util.sizeFromShape(batch) * m * k * n < NATIVE_MATMUL_MIN_WORK
    ) {
      return previous(args);
    }
    const be = wasmBackend(args.backend);
    const outShape = [...batch, m, n];
    const out = be.makeOutput(outShape, 'float32'); // before the views (typedArrayFromHeap)
    const view = (t: tf.TensorInfo) => be.typedArrayFromHeap(t) as Float32Array;
    nativeCalls++;
    gemm.run(view(a), a.shape, view(b), b.shape, transposeA, transposeB, view(out), outShape);
    return out;
  });
  if (!replaced) return { ok: false, why: 'no wasm BatchMatMul to replace' };
  active = gemm;
  return { ok: true, detail: gemm.detail };
}
