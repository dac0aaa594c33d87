/**
 * The one place that chooses the TensorFlow.js backend and holds every workaround tfjs 4.22 needs on it
 * (shared/spec/runtime.md §2–3): gradient registration, a wasm kernel for UnsortedSegmentSum (the gradient of
 * `tf.gather`, i.e. of embedding lookups), the flag-free matMul that makes wasm training ~3× faster, a wasm
 * BatchMatMul that runs batched products slice by slice on the fast batch-1 path, wasm's matMuls on onnxruntime-node's
 * native GEMM when it is installed (native-matmul.ts; REWARD_TUNE_NATIVE_MATMUL), wasm Slice/SplitV that copy only
 * the piece, the threaded wasm build under Node (opt-in, REWARD_TUNE_WASM_THREADS; wasm-threads.ts), and reading
 * tensors with `await t.data()` (the only read that works on webgpu in Node). What the wasm kernels rely on of
 * tfjs-backend-wasm's internals, and how they replace its kernels, is in wasm-internals.ts.
 *
 * Optional and heavy packages (@tensorflow/tfjs-node[-gpu], webgpu, the backends, onnxruntime-node) are required
 * lazily inside functions (optional-require.ts) so that bundling keeps them external and a missing optional
 * dependency is a fallback, not a crash.
 */
import { firstLine, UsageError } from './command-line';
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { releaseWasmThreads, wasmThreadCount, withWasmThreads } from './wasm-threads';
import { lazyRequire } from './optional-require';
import { nativeMatMulActive, nativeMatMulThreads, registerNativeMatMul } from './native-matmul';
import { replaceWasmKernel, wasmBackend, type WasmBackendInternals } from './wasm-internals';
import { patchWebgpuBackend, watchWebgpuErrors, webgpuErrors, webgpuPatchesOn } from './webgpu-internals';
import { registerWebgpuKernels, unregisterWebgpuKernels } from './webgpu-kernels';

export type BackendChoice = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

export interface BackendInfo {
  /** The tfjs backend name now active (`tensorflow`, `webgpu`, `wasm` or `cpu`). */
  readonly name: string;
  /** A human-readable line: which package, which adapter, why earlier candidates were skipped. */
  readonly detail: string;
}

/**
 * Thrown when an explicitly requested backend cannot be used; the message is one line saying why. A usage problem,
 * so a CLI prints that line and exits 2.
 */
export class BackendUnavailableError extends UsageError {
  override readonly name: string = 'BackendUnavailableError';
}

let gradientsRegistered = false;
/** tfjs-core's Node build registers no gradients; importing tfjs-layers once registers all of them. */
export function registerGradients(): void {
  if (gradientsRegistered) return;
  lazyRequire('@tensorflow/tfjs-layers');
  gradientsRegistered = true;
}

type Attempt = { ok: true; detail: string } | { ok: false; why: string };

async function tryTensorflow(pkg: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node'): Promise<Attempt> {
  try {
    lazyRequire(pkg);
  } catch (e) {
    return { ok: false, why: `${pkg} not installed (${firstLine(e)})` };
  }
  if (!(await setBackendChecked('tensorflow'))) return { ok: false, why: `${pkg} loaded but setBackend failed` };
  return { ok: true, detail: `${pkg} (libtensorflow)` };
}

/** Names that only software rasterisers report (Mesa lavapipe/llvmpipe, SwiftShader). */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software/i;

/** What `GPUAdapter` and `GPUAdapterInfo` expose that matters here (npm `webgpu` 0.6.2 / Dawn). */
export interface AdapterLike {
  /** Older WebGPU drafts put the flag on the adapter; Dawn 0.6 leaves it undefined there. */
  readonly isFallbackAdapter?: boolean;
  readonly info?: {
    readonly vendor?: string;
    readonly architecture?: string;
    readonly device?: string;
    readonly description?: string;
    /** Current spec and Dawn 0.6: lavapipe reports `true` here (with architecture 'software'). */
    readonly isFallbackAdapter?: boolean;
  };
}

export interface AdapterClass {
  /** One line: vendor, architecture, device, description. */
  readonly description: string;
  /** True for a software (CPU) implementation: correct, but slower than wasm for training. */
  readonly software: boolean;
}

/**
 * Classifies an adapter. Dawn marks lavapipe with `info.isFallbackAdapter` (and architecture 'software'); the name
 * check catches drivers that do not set the flag, e.g. SwiftShader through an older Dawn.
 */
export function classifyAdapter(adapter: AdapterLike): AdapterClass {
  const info = adapter.info ?? {};
  const description =
    [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' ') || 'unknown';
  const software =
    adapter.isFallbackAdapter === true || info.isFallbackAdapter === true || SOFTWARE_ADAPTER.test(description);
  return { description, software };
}

/**
 * The adapter request tfjs-backend-webgpu 4.22 itself makes (`high-performance` unless WEBGPU_USE_LOW_POWER_GPU),
 * so that the adapter judged here is the one the backend will run on: on a machine with both a GPU and lavapipe,
 * a request without a preference may return the software one.
 */
const ADAPTER_REQUEST = { powerPreference: 'high-performance' } as const;

type GpuLike = { requestAdapter(opts?: object): Promise<AdapterLike | null> };

type Dawn = { create(flags: string[]): GpuLike; globals: object };

/**
 * npm `webgpu`'s entry point is an ES module: `require` loads it only on Node ≥ 20.19, and never inside Jest's
 * module system. Where it cannot, load the prebuilt addon it wraps (`dist/<platform>-<arch>/dawn.node`) directly;
 * the wrapper adds only an unmap-on-`device.destroy()` patch, and tfjs never destroys its device.
 */
function loadDawn(): Dawn {
  try {
    return lazyRequire('webgpu') as Dawn;
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_REQUIRE_ESM') throw e;
    const dir = path.dirname(require.resolve('webgpu/package.json'));
    const arch = process.platform === 'darwin' ? 'universal' : process.arch;
    return lazyRequire(path.join(dir, 'dist', `${process.platform}-${arch}`, 'dawn.node')) as Dawn;
  }
}

/** Installs Dawn's `navigator.gpu` (once); it must exist BEFORE tfjs-backend-webgpu is loaded (runtime.md §3). */
function installNavigatorGpu(): GpuLike {
  const g = globalThis as unknown as { navigator?: { gpu?: GpuLike } };
  if (g.navigator?.gpu === undefined) {
    const webgpu = loadDawn();
    Object.assign(globalThis, webgpu.globals);
    const nav = (g.navigator ?? {}) as { gpu?: GpuLike };
    nav.gpu = webgpu.create([]);
    if (g.navigator === undefined) {
      Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });
    }
  }
  return g.navigator!.gpu!;
}

/**
 * Looks for a WebGPU adapter without switching backends: `{ ok: true, adapter }` or `{ ok: false, why }` (one line).
 * Dawn answers within a second where Vulkan has no usable driver (Debian 12's Mesa 22 gives `null`).
 */
export async function probeWebgpu(): Promise<{ ok: true; adapter: AdapterClass } | { ok: false; why: string }> {
  let gpu: GpuLike;
  try {
    gpu = installNavigatorGpu();
  } catch (e) {
    return { ok: false, why: `npm 'webgpu' (Dawn) could not load (${firstLine(e)})` };
  }
  let adapter: AdapterLike | null;
  try {
    adapter = await withTimeout(gpu.requestAdapter(ADAPTER_REQUEST), 10000, 'requestAdapter timed out');
  } catch (e) {
    return { ok: false, why: `no WebGPU adapter (${firstLine(e)})` };
  }
  if (adapter === null) return { ok: false, why: 'no WebGPU adapter (Vulkan driver missing or too old)' };
  return { ok: true, adapter: classifyAdapter(adapter) };
}

// A bare Dawn adapter request, run by webgpuAdapterInChild; loads the package as installNavigatorGpu does: its ES
// entry where require takes it (Node ≥ 20.19), else the addon it wraps.
const CHILD_PROBE = `
const path = require('path');
let dawn;
try { dawn = require('webgpu'); } catch {
  const arch = process.platform === 'darwin' ? 'universal' : process.arch;
  dawn = require(path.join(path.dirname(require.resolve('webgpu/package.json')), 'dist', process.platform + '-' + arch, 'dawn.node'));
}
const { create, globals } = dawn;
Object.assign(globalThis, globals);
create([]).requestAdapter({ powerPreference: 'high-performance' }).then(
  (a) => { console.log(JSON.stringify(a ? { ok: true, what: a.info.description || a.info.device } : { ok: false, what: 'requestAdapter returned null' })); process.exit(0); },
  (e) => { console.log(JSON.stringify({ ok: false, what: String(e) })); process.exit(0); });
`;

/**
 * Whether Dawn finds a WebGPU adapter, asked synchronously in a child process (about a second, with or without a
 * driver) so that nothing starts in this one: test files use it to declare their webgpu tests or skip them.
 */
export function webgpuAdapterInChild(): { ok: boolean; what: string } {
  const r = spawnSync(process.execPath, ['-e', CHILD_PROBE], { encoding: 'utf8', timeout: 30000, cwd: __dirname });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as { ok: boolean; what: string };
  } catch {
    return { ok: false, what: `probe failed (${(r.stderr || String(r.error)).trim().split('\n')[0]})` };
  }
}

/**
 * tfjs-backend-webgpu's defaults suit a browser page, not a training loop: it submits its command encoder every 15
 * kernels (WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE) and runs kernels whose inputs happen to be on the CPU there
 * (WEBGPU_CPU_FORWARD), which turns small tensors into readbacks. A step launches thousands of kernels; on an NVIDIA
 * H200 raising the batch to 1000 and turning forwarding off cut the bench-small training step from 1350 to 944 ms
 * and greedy sampling from 6.9 to 4.9 s (`core-model bench --config bench-small --backend webgpu`, one run each).
 */
export const WEBGPU_FLAGS = { WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE: 1000, WEBGPU_CPU_FORWARD: false } as const;

function tuneWebgpuFlags(): void {
  for (const [k, v] of Object.entries(WEBGPU_FLAGS)) tf.env().set(k, v);
}

async function tryWebgpu(allowSoftware: boolean): Promise<Attempt> {
  const patchesOn = webgpuPatchesOn(); // a bad REWARD_TUNE_WEBGPU_PATCHES is a UsageError before anything starts
  const probe = await probeWebgpu();
  if (!probe.ok) return probe;
  const { description, software } = probe.adapter;
  if (software && !allowSoftware) return { ok: false, why: `WebGPU adapter '${description}' is a software fallback` };
  try {
    lazyRequire('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    return { ok: false, why: `@tensorflow/tfjs-backend-webgpu could not load (${firstLine(e)})` };
  }
  if (!(await setBackendChecked('webgpu'))) {
    return { ok: false, why: `setBackend('webgpu') failed on adapter '${description}'` };
  }
  tuneWebgpuFlags();
  watchWebgpuErrors(tf.backend());
  if (patchesOn) {
    patchWebgpuBackend(tf.backend());
    registerWebgpuKernels();
  } else {
    unregisterWebgpuKernels();
  }
  const patches = patchesOn
    ? 'fused layer-norm, GELU and softmax kernels; uploads and bind groups patched'
    : "tfjs's kernels and kernel path (REWARD_TUNE_WEBGPU_PATCHES=0)";
  return { ok: true, detail: `WebGPU through Dawn, adapter '${description}'${software ? ' (software)' : ''}; ${patches}` };
}

/** Directory (with trailing slash, which setWasmPaths needs) holding tfjs-backend-wasm's .wasm files. */
export function wasmDir(): string {
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  return path.dirname(main) + path.sep;
}

async function tryWasm(): Promise<Attempt> {
  // Outside the try: a bad REWARD_TUNE_WASM_THREADS is a UsageError (one line, exit 2), not a reason to fall back.
  const threads = wasmThreadCount();
  nativeMatMulThreads(); // likewise for a bad REWARD_TUNE_NATIVE_MATMUL
  try {
    const wasm = lazyRequire('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(p: string): void; getThreadsCount(): number };
    const dir = wasmDir();
    wasm.setWasmPaths(dir);
    registerWasmKernels();
    // tfjs reads this flag to pick the threaded build; under Node it says false (wasm-threads.ts bridges the rest).
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', threads > 1);
    const set = () => setBackendChecked('wasm');
    // A wrong path makes setBackend resolve to false rather than throw (runtime.md §2).
    if (!(await (threads > 1 ? withWasmThreads(threads, set) : set()))) {
      const what = threads > 1 ? `the threaded wasm build (REWARD_TUNE_WASM_THREADS=${threads}; 1 turns it off) did not start` : 'wasm binaries not loadable';
      return { ok: false, why: `${what} from ${dir}` };
    }
    if (threads > 1) releaseWasmThreads((tf.backend() as unknown as { wasm: unknown }).wasm);
    const n = wasm.getThreadsCount();
    const native = registerNativeMatMul(n);
    const matMuls = native.ok ? `matMul: native, ${native.detail}` : `matMul: wasm's (native ${native.why})`;
    return { ok: true, detail: `tfjs-backend-wasm (SIMD, ${n} thread${n === 1 ? '' : 's'}; ${matMuls}) from ${dir}` };
  } catch (e) {
    return { ok: false, why: `wasm backend failed (${firstLine(e)})` };
  }
}

async function tryCpu(): Promise<Attempt> {
  lazyRequire('@tensorflow/tfjs-backend-cpu');
  if (!(await setBackendChecked('cpu'))) return { ok: false, why: 'cpu backend failed' };
  return { ok: true, detail: 'tfjs-backend-cpu (pure JS; for tests only)' };
}

/**
 * Checks the environment variables the backends read (REWARD_TUNE_WASM_THREADS, REWARD_TUNE_NATIVE_MATMUL,
 * REWARD_TUNE_WEBGPU_PATCHES) and throws their UsageError now: a command calls it before any work, so a typo costs
 * nothing (initBackend checks them again where they are used).
 */
export function checkBackendEnv(env: NodeJS.ProcessEnv = process.env): void {
  wasmThreadCount(env);
  nativeMatMulThreads(env);
  webgpuPatchesOn(env);
}

let logged = false;

/**
 * Selects and initialises the backend. `auto`: tfjs-node-gpu → tfjs-node → webgpu (hardware adapter only) → wasm.
 * An explicit choice fails with a `BackendUnavailableError` naming the cause. Logs the choice once on stderr.
 */
export async function initBackend(choice: BackendChoice, opts: { quiet?: boolean } = {}): Promise<BackendInfo> {
  registerGradients();
  const skipped: string[] = [];
  const attempt = async (name: string, f: () => Promise<Attempt>): Promise<BackendInfo | null> => {
    const r = await f();
    if (r.ok) return { name, detail: r.detail + (skipped.length ? `; skipped: ${skipped.join('; ')}` : '') };
    skipped.push(r.why);
    return null;
  };
  let info: BackendInfo | null = null;
  switch (choice) {
    case 'auto':
      info =
        (await attempt('tensorflow', () => tryTensorflow('@tensorflow/tfjs-node-gpu'))) ??
        (await attempt('tensorflow', () => tryTensorflow('@tensorflow/tfjs-node'))) ??
        (await attempt('webgpu', () => tryWebgpu(false))) ??
        (await attempt('wasm', tryWasm)) ??
        (await attempt('cpu', tryCpu));
      break;
    case 'tensorflow':
      info =
        (await attempt('tensorflow', () => tryTensorflow('@tensorflow/tfjs-node-gpu'))) ??
        (await attempt('tensorflow', () => tryTensorflow('@tensorflow/tfjs-node')));
      break;
    case 'webgpu':
      // Asked for explicitly, a software adapter is accepted (it is the correctness path on CPU machines).
      info = await attempt('webgpu', () => tryWebgpu(true));
      break;
    case 'wasm':
      info = await attempt('wasm', tryWasm);
      break;
    case 'cpu':
      info = await attempt('cpu', tryCpu);
      break;
    default:
      throw new BackendUnavailableError(`unknown backend '${String(choice)}' (expected ${BACKEND_CHOICES.join('|')})`);
  }
  if (info === null) throw new BackendUnavailableError(`backend '${choice}' unavailable: ${skipped.join('; ')}`);
  if (!logged && !opts.quiet) {
    process.stderr.write(`[core-model] backend: ${info.name} — ${info.detail}\n`);
    logged = true;
  }
  return info;
}

async function setBackendChecked(name: string): Promise<boolean> {
  try {
    const ok = await tf.setBackend(name);
    if (ok) await tf.ready();
    return ok && tf.getBackend() === name;
  } catch {
    return false;
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, why: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(why)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// wasm kernels missing in tfjs 4.22

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
 * for float32 operands of equal batch dimensions without transpose flags (what `matMul` below emits on wasm) and
 * slices of at least SLICED_MATMUL_MIN_WORK multiply-adds; everything else goes to wasm's own kernel. Relies on the
 * backend internals of tfjs-backend-wasm 4.22 (registerTensor/disposeData by id, memory offsets), pinned in
 * package.json; `src/backend.wasm-matmul.spec.ts` checks it against the original kernel.
 */
function registerSlicedBatchMatMul(): void {
  let call: ((...a: unknown[]) => void) | undefined;
  replaceWasmKernel('BatchMatMul', (original) => (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const r = a.shape.length;
    const outer = a.shape.slice(0, -2);
    const batch = outer.reduce((x, y) => x * y, 1);
    const [m, k] = a.shape.slice(-2), n = b.shape[r - 1];
    const plain =
      !transposeA && !transposeB && a.dtype === 'float32' && b.dtype === 'float32' && r >= 3 && b.shape.length === r &&
      outer.every((d, i) => d === b.shape[i]) && b.shape[r - 2] === k && batch > 1 && m * k * n >= SLICED_MATMUL_MIN_WORK;
    if (!plain) return original(args);
    const be = wasmBackend(args.backend);
    call ??= be.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
    const out = be.makeOutput([...outer, m, n], 'float32');
    const pa = be.dataIdMap.get(a.dataId).memoryOffset, pb = be.dataIdMap.get(b.dataId).memoryOffset;
    const po = be.dataIdMap.get(out.dataId).memoryOffset;
    const shapeA = new Uint8Array(new Int32Array([1, m, k]).buffer), shapeB = new Uint8Array(new Int32Array([1, k, n]).buffer);
    const { tfjs } = be.wasm;
    slicedMatMuls++;
    for (let i = 0; i < batch; i++) {
      const ia = be.dataIdNextNumber++, ib = be.dataIdNextNumber++, io = be.dataIdNextNumber++;
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
 * piece from a view of the heap; everything else goes to the original kernels. `src/backend.wasm-slice.spec.ts`
 * checks both paths against pieces cut by index arithmetic.
 */
function registerHeapViewSlice(): void {
  /** The piece [begin, begin + size) of x when it is one run of memory, else null. */
  const contiguousPiece = (x: tf.TensorInfo, begin: number[], size: number[], be: WasmBackendInternals): tf.TensorInfo | null => {
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

function registerWasmKernels(): void {
  if (wasmKernelsRegistered) return;
  wasmKernelsRegistered = true;
  registerSharingIdentity();
  registerHeapViewSlice();
  registerSlicedBatchMatMul();
  // UnsortedSegmentSum (the gradient of tf.gather needs it), missing in tfjs-backend-wasm 4.22. It runs on the JS
  // side: it is called once per embedding table per backward pass, with inputs of size [B·L, D], so simplicity beats
  // speed.
  if (tf.getKernel('UnsortedSegmentSum', 'wasm') !== undefined) return;
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
      const numSegments = (attrs as { numSegments: number }).numSegments;
      const be = wasmBackend(backend);
      const xs = be.readSync(x.dataId);
      const ids = be.readSync(segmentIds.dataId);
      const outer = ids.length;
      const inner = outer === 0 ? 0 : xs.length / outer;
      const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
      const out = x.dtype === 'int32' ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
      for (let i = 0; i < outer; i++) {
        const s = ids[i];
        if (s < 0 || s >= numSegments) continue; // TF semantics: out-of-range ids are dropped
        const o = s * inner;
        const xi = i * inner;
        for (let j = 0; j < inner; j++) out[o + j] += xs[xi + j];
      }
      return be.makeOutput(outShape, x.dtype, undefined, out);
    },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// matMul without transpose flags (runtime.md §2: wasm's own flagged and batched matMuls are 10–20× slower; the
// native kernel of native-matmul.ts, when active, takes the flags at no cost)

const swapLast = (t: tf.Tensor): tf.Tensor => {
  const perm = t.shape.map((_, i) => i);
  [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1], perm[perm.length - 2]];
  return tf.transpose(t, perm);
};

/**
 * a @ b with optional transposes, the way each backend does it fastest: on wasm with its own kernels explicit
 * transposes plus an un-flagged matMul, elsewhere (and with the native kernel) tf.matMul's own flags. Not differentiable by
 * itself on wasm in a useful way: use it inside custom gradients, and `matMul` in model code.
 */
export function matMulT(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  if (tf.getBackend() === 'wasm' && !nativeMatMulActive()) return tf.matMul(transposeA ? swapLast(a) : a, transposeB ? swapLast(b) : b);
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

// ---------------------------------------------------------------------------------------------------------------

/** Reads a tensor's values. Always `await t.data()`: dataSync()/arraySync() do not work on webgpu in Node. */
export async function readTensor<T extends tf.Tensor>(t: T): Promise<tf.TypedArray> {
  const values = (await t.data()) as tf.TypedArray;
  // A WebGPU validation or out-of-memory error makes later results garbage without failing anything: stop here.
  const errors = webgpuErrors();
  if (errors !== null) throw new Error(`WebGPU reported ${errors.count} error(s); the first: ${errors.first}`);
  return values;
}
