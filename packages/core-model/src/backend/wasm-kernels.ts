/**
 * The wasm kernels tfjs-backend-wasm 4.22 lacks or runs slowly, registered once when the wasm backend is set up
 * (select.ts): an Identity that shares its buffer, Slice/SplitV that copy only the piece, a GatherV2 that copies whole
 * rows, a BatchMatMul that runs a batched product slice by slice on the fast batch-1 path, a Transpose that copies
 * whole rows where it can, an Exp without a call per value, a Sum over leading axes without a transpose, and
 * UnsortedSegmentSum (the gradient of `tf.gather`, i.e. of embedding lookups). What they rely on of the backend's
 * internals is in wasm-internals.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expF32On, fusedWasm, registerWasmFusedKernels, sumLeadingOn, swapMiddleAxesOn } from './wasm-fused';
import { EXP2F_TABLE } from './wasm-functions';
import { heapOffset, replaceWasmKernel, wasmBackend, type WasmBackendInternals } from './wasm-internals';

let wasmKernelsRegistered = false;

/**
 * Identity for wasm without a copy. tfjs clones every tensor a gradient saves (`keep(clone(t))`), and wasm's own
 * Identity copies the buffer; tensors are immutable (variables swap buffers on assign), so sharing the buffer by
 * reference count, as the cpu backend and wasm's own Reshape already do, is safe. Saves a full copy of every saved
 * activation, in time and in peak memory.
 */
function registerSharingIdentity(): void {
  replaceWasmKernel('Identity', () => ({ inputs, backend }) => {
    const { x } = inputs as { x: tf.TensorInfo };
    wasmBackend(backend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
}

let swapTransposes = 0;
/** How many transposes the row copy has run in this process (for tests). */
export const swapTransposeCount = (): number => swapTransposes;

/**
 * Transpose for wasm that swaps the two middle axes of [a, b, c, d] (perm [0, 2, 1, 3]: attention's head split and
 * merge, forward and backward, and the ViT's patch extraction; [1, 0, 2] is the same with a = 1) by copying whole rows
 * of d values with wasm-functions.ts's vector copy, where tfjs's kernel is a generic one: a bench-tiny head split
 * ([32, 64, 4, 32], outputs kept) takes 0.09 ms instead of 0.16–0.18. Rows must be whole vectors (d a multiple of
 * 4) of a 4-byte dtype; everything else goes to tfjs's kernel.
 */
function registerSwapTranspose(): void {
  replaceWasmKernel('Transpose', (original) => (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { perm } = args.attrs as { perm: number[] };
    const dims =
      perm.length === 4 && perm[0] === 0 && perm[1] === 2 && perm[2] === 1 && perm[3] === 3
        ? x.shape
        : perm.length === 3 && perm[0] === 1 && perm[1] === 0 && perm[2] === 2
          ? [1, ...x.shape]
          : null;
    const swap = dims === null ? undefined : swapMiddleAxesOn(args.backend);
    if (dims === null || swap === undefined || dims[3] % 4 !== 0 || !(x.dtype === 'float32' || x.dtype === 'int32')) {
      return original(args);
    }
    const be = wasmBackend(args.backend);
    const out = be.makeOutput(
      perm.map((p) => x.shape[p]),
      x.dtype,
    );
    if (tf.util.sizeFromShape(x.shape) > 0) {
      swap(heapOffset(be, out), heapOffset(be, x), dims[0], dims[1], dims[2], dims[3] * 4);
    }
    swapTransposes++;
    return out;
  });
}

/** EXP2F_TABLE's byte offset on each backend's heap: written once, in a buffer no tensor owns (never freed). */
const expTables = new WeakMap<object, number>();
function expTableOn(backend: unknown): number {
  let at = expTables.get(backend as object);
  if (at === undefined) {
    const be = wasmBackend(backend);
    const words = Int32Array.from(EXP2F_TABLE.flat(), (w) => w | 0);
    at = heapOffset(be, be.makeOutput([words.length], 'int32', undefined, words));
    expTables.set(backend as object, at);
  }
  return at;
}

/**
 * Exp for float32 on wasm as wasm-functions.ts's EXP_F32: the same function as tfjs's kernel (musl's expf: the bits are
 * its own), compiled with its table lookups and double arithmetic inline instead of a call per value: a [32, 32, 300]
 * tensor (the log-softmax over a bench-tiny step's vocabulary, twice a step) in 1.3–1.9 ms instead of 2.3–3.4. Off
 * with the other fused kernels (setWasmFused(false)), and on the threaded build's shared heap.
 */
let muslExps = 0;
/** How many Exps the module's function has run in this process (for tests). */
export const muslExpCount = (): number => muslExps;

function registerMuslExp(): void {
  replaceWasmKernel('Exp', (original) => (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const exp = x.dtype === 'float32' && fusedWasm() ? expF32On(args.backend) : undefined;
    if (exp === undefined) return original(args);
    const be = wasmBackend(args.backend);
    const table = expTableOn(args.backend);
    const out = be.makeOutput(x.shape, 'float32');
    exp(heapOffset(be, out), heapOffset(be, x), tf.util.sizeFromShape(x.shape) * 4, table);
    muslExps++;
    return out;
  });
}

/**
 * Sum over leading axes for float32 on wasm as wasm-functions.ts's SUM_LEADING: tfjs's kernel moves the summed axes
 * last with a transpose and then adds each output's values in order; this adds them in the same order where they lie
 * (the bits are its own): a broadcast add's gradient, e.g. a position embedding's over the batch ([32, 64, 128] over
 * axis 0: 1.2 ms of a bench-tiny step). Other sums go to tfjs's kernel; off with the fused kernels.
 */
let leadingSums = 0;
/** How many Sums the module's function has run in this process (for tests). */
export const leadingSumCount = (): number => leadingSums;

function registerLeadingSum(): void {
  replaceWasmKernel('Sum', (original) => (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    // In the order given: tfjs's transpose puts the summed axes last in that order, and so sums in that order.
    const axes = tf.util.parseAxisParam(axis, x.shape);
    const k = axes.length;
    const leading = k > 0 && k < rank && axes.every((a, i) => a === i);
    const fn = x.dtype === 'float32' && leading && fusedWasm() ? sumLeadingOn(args.backend) : undefined;
    const rows = tf.util.sizeFromShape(x.shape.slice(0, k)),
      cols = tf.util.sizeFromShape(x.shape.slice(k));
    if (fn === undefined || rows === 0 || cols === 0) return original(args);
    const be = wasmBackend(args.backend);
    const out = be.makeOutput([...(keepDims ? x.shape.slice(0, k).map(() => 1) : []), ...x.shape.slice(k)], 'float32');
    fn(heapOffset(be, out), heapOffset(be, x), rows, cols * 4);
    leadingSums++;
    return out;
  });
}

/** Slices smaller than this many multiply-adds (M·K·N) stay on wasm's batched kernel: the per-call cost wins there. */
export const SLICED_MATMUL_MIN_WORK = 8192;

let slicedMatMuls = 0;
/** How many products the sliced wasm BatchMatMul has run in this process (for tests and profiling). */
export const slicedMatMulCount = (): number => slicedMatMuls;

/**
 * BatchMatMul for wasm that runs a batched product as one batch-1 product per slice, on views of the same buffers.
 *
 * wasm's batched kernel runs at ~1.2 GFLOP/s, its batch-1 path (XNNPACK) at 4–7 GFLOP/s on the attention shapes,
 * and splitting with tf ops (unstack, matMul, stack) costs 10× more than it saves. So this kernel registers each
 * slice of a, b and the output with the wasm module as a tensor of its own, pointing into the parent's memory (no
 * copy), calls the module's BatchMatMul on it, and drops the registration (the memory stays the parent's). Used
 * for float32 operands of equal batch dimensions without transpose flags (what primitives.ts's `matMul` emits on
 * wasm) and slices of at least SLICED_MATMUL_MIN_WORK multiply-adds; everything else goes to wasm's own kernel.
 * Relies on the backend internals of tfjs-backend-wasm 4.22 (registerTensor/disposeData by id, memory offsets),
 * pinned in package.json; `wasm-kernels.matmul.spec.ts` checks it against the original kernel.
 */
function registerSlicedBatchMatMul(): void {
  let call: ((...a: unknown[]) => void) | undefined;
  replaceWasmKernel('BatchMatMul', (original) => (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const r = a.shape.length;
    const outer = a.shape.slice(0, -2);
    const batch = outer.reduce((x, y) => x * y, 1);
    const [m, k] = a.shape.slice(-2),
      n = b.shape[r - 1];
    const plain =
      !transposeA &&
      !transposeB &&
      a.dtype === 'float32' &&
      b.dtype === 'float32' &&
      r >= 3 &&
      b.shape.length === r &&
      outer.every((d, i) => d === b.shape[i]) &&
      b.shape[r - 2] === k &&
      batch > 1 &&
      m * k * n >= SLICED_MATMUL_MIN_WORK;
    if (!plain) return original(args);
    const be = wasmBackend(args.backend);
    call ??= be.wasm.cwrap('BatchMatMul', null, [
      'number',
      'array',
      'number',
      'number',
      'array',
      'number',
      'number',
      'number',
      'number',
    ]);
    const out = be.makeOutput([...outer, m, n], 'float32');
    const [pa, pb, po] = [a, b, out].map((t) => heapOffset(be, t));
    const shapeA = new Uint8Array(new Int32Array([1, m, k]).buffer),
      shapeB = new Uint8Array(new Int32Array([1, k, n]).buffer);
    const { tfjs } = be.wasm;
    slicedMatMuls++;
    for (let i = 0; i < batch; i++) {
      const ia = be.dataIdNextNumber++,
        ib = be.dataIdNextNumber++,
        io = be.dataIdNextNumber++;
      tfjs.registerTensor(ia, m * k, pa + i * m * k * 4);
      tfjs.registerTensor(ib, k * n, pb + i * k * n * 4);
      tfjs.registerTensor(io, m * n, po + i * m * n * 4);
      try {
        call(ia, shapeA, 3, ib, shapeB, 3, false, false, io);
      } finally {
        tfjs.disposeData(ia);
        tfjs.disposeData(ib);
        tfjs.disposeData(io);
      }
    }
    return out;
  });
}

/**
 * Slice and SplitV for wasm that copy only the piece. wasm's own Slice first reads the whole input out of the heap
 * into a JS copy (`readSync`), then copies the piece from that copy: splitting a flat buffer of all parameters into
 * one piece per parameter copied the whole buffer once per piece (chain.ts's fused optimizer step). For a
 * contiguous piece (every dimension after the first sliced one taken whole) and a numeric dtype these copy the
 * piece from a view of the heap; everything else goes to the original kernels. `wasm-kernels.slice.spec.ts`
 * checks both paths against pieces cut by index arithmetic.
 */
function registerHeapViewSlice(): void {
  /** The piece [begin, begin + size) of x when it is one run of memory, else null. */
  const contiguousPiece = (
    x: tf.TensorInfo,
    begin: number[],
    size: number[],
    be: WasmBackendInternals,
  ): tf.TensorInfo | null => {
    if (x.dtype === 'string' || !tf.slice_util.isSliceContinous(x.shape, begin, size)) return null;
    const out = be.makeOutput(size, x.dtype); // before the views (typedArrayFromHeap)
    const from = tf.slice_util.computeFlatOffset(begin, tf.util.computeStrides(x.shape));
    be.typedArrayFromHeap(out).set(be.typedArrayFromHeap(x).subarray(from, from + tf.util.sizeFromShape(size)));
    return out;
  };
  replaceWasmKernel('Slice', (slice) => (args) => {
    const x = (args.inputs as { x: tf.TensorInfo }).x;
    const { begin, size } = args.attrs as { begin: number | number[]; size: number | number[] };
    const [b, sz] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size);
    return contiguousPiece(x, b, sz, wasmBackend(args.backend)) ?? slice(args);
  });
  replaceWasmKernel('SplitV', (splitV) => (args) => {
    const x = (args.inputs as { x: tf.TensorInfo }).x;
    const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    // Every piece is contiguous when the dimensions before the split axis are all 1.
    if (x.dtype === 'string' || x.shape.slice(0, ax).some((d) => d !== 1)) return splitV(args);
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
    const begin = x.shape.map(() => 0);
    return sizes.map((n) => {
      const size = [...x.shape];
      size[ax] = n;
      const piece = contiguousPiece(x, begin, size, wasmBackend(args.backend)) as tf.TensorInfo;
      begin[ax] += n;
      return piece;
    });
  });
}

/**
 * GatherV2 for wasm along the first axis (batchDims 0): one copy per index of the row it picks, from a view of the
 * heap. wasm's own kernel computes every output element's source index on its own (~20 ns an element here), so
 * repeating 64 images of 64×64×3 four times for REINFORCE's rows, or a batch's encoder tokens once per sample, took
 * 70–200 ms where the copies take about one. Other axes, batchDims, string tensors and indices outside [0, rows) go
 * to the original kernel (which keeps its own rules for them). `wasm-kernels.gather.spec.ts` checks it against the
 * cpu backend.
 */
function registerRowGather(): void {
  replaceWasmKernel('GatherV2', (gather) => (args) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as { axis: number; batchDims?: number };
    if (
      x.dtype === 'string' ||
      indices.dtype !== 'int32' ||
      (batchDims ?? 0) !== 0 ||
      tf.util.parseAxisParam(axis, x.shape)[0] !== 0
    )
      return gather(args);
    const be = wasmBackend(args.backend);
    const rows = x.shape[0];
    const inner = tf.util.sizeFromShape(x.shape.slice(1));
    const at = be.typedArrayFromHeap(indices);
    for (let i = 0; i < at.length; i++) if (!(at[i] >= 0 && at[i] < rows)) return gather(args);
    const out = be.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype); // before the views
    const src = be.typedArrayFromHeap(x);
    const dst = be.typedArrayFromHeap(out);
    const idx = be.typedArrayFromHeap(indices);
    for (let i = 0; i < idx.length; i++) dst.set(src.subarray(idx[i] * inner, (idx[i] + 1) * inner), i * inner);
    return out;
  });
}

export function registerWasmKernels(): void {
  if (wasmKernelsRegistered) return;
  wasmKernelsRegistered = true;
  registerSharingIdentity();
  registerHeapViewSlice();
  registerRowGather();
  registerSlicedBatchMatMul();
  registerSwapTranspose();
  registerMuslExp();
  registerLeadingSum();
  registerWasmFusedKernels();
  // UnsortedSegmentSum (the gradient of tf.gather needs it), missing in tfjs-backend-wasm 4.22. It runs on the JS
  // side, on views of the heap: once per embedding table per backward pass, with inputs of size [B·L, D].
  if (tf.getKernel('UnsortedSegmentSum', 'wasm') !== undefined) return;
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const numSegments = (attrs as { numSegments: number }).numSegments;
      const be = wasmBackend(backend);
      const outer = tf.util.sizeFromShape(segmentIds.shape);
      const inner = outer === 0 ? 0 : tf.util.sizeFromShape(x.shape) / outer;
      const out = be.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
      if (numSegments * inner === 0) return out;
      // The views after the allocation, which may have grown (and detached) the heap.
      const xs = be.typedArrayFromHeap(x);
      const ids = be.typedArrayFromHeap(segmentIds);
      const dst = be.typedArrayFromHeap(out);
      dst.fill(0);
      for (let i = 0; i < outer; i++) {
        const s = ids[i];
        if (s < 0 || s >= numSegments) continue; // TF semantics: out-of-range ids are dropped
        const o = s * inner;
        const xi = i * inner;
        for (let j = 0; j < inner; j++) dst[o + j] += xs[xi + j];
      }
      return out;
    },
  });
}
