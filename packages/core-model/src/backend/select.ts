/**
 * Choosing and starting the TensorFlow.js backend: `auto` tries tfjs-node-gpu, tfjs-node, webgpu on a hardware
 * adapter, then wasm (cpu last, for tests); an explicit choice that cannot start is a one-line
 * `BackendUnavailableError`. Starting a backend installs what tfjs 4.22 needs on it: the gradients (tfjs-layers),
 * on wasm the kernels of wasm-kernels.ts, the threaded build under Node (opt-in, REWARD_TUNE_WASM_THREADS;
 * wasm-threads.ts) and onnxruntime-node's native GEMM for its matMuls when installed (native-matmul.ts;
 * REWARD_TUNE_NATIVE_MATMUL), on webgpu the training-loop flags, the error watch, the fused kernels
 * (webgpu-kernels.ts) and the per-kernel path patches (webgpu-internals.ts; REWARD_TUNE_WEBGPU_PATCHES). Why each
 * workaround exists, and what it buys, is in docs/runtime.md.
 *
 * Optional and heavy packages (@tensorflow/tfjs-node[-gpu], webgpu, the backends, onnxruntime-node) are required
 * lazily inside functions (optional-require.ts) so that bundling keeps them external and a missing optional
 * dependency is a fallback, not a crash.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as path from 'node:path';
import { firstLine, UsageError } from '../command-line';
import { nativeMatMulThreads, registerNativeMatMul } from './native-matmul';
import { lazyRequire } from './optional-require';
import { registerWasmKernels } from './wasm-kernels';
import { releaseWasmThreads, wasmThreadCount, withWasmThreads } from './wasm-threads';
import { patchWebgpuBackend, watchWebgpuErrors, webgpuPatchesOn } from './webgpu-internals';
import { registerWebgpuKernels, unregisterWebgpuKernels } from './webgpu-kernels';
import { probeWebgpu } from './webgpu-probe';

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
  return {
    ok: true,
    detail: `WebGPU through Dawn, adapter '${description}'${software ? ' (software)' : ''}; ${patches}`,
  };
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
    const wasm = lazyRequire('@tensorflow/tfjs-backend-wasm') as {
      setWasmPaths(p: string): void;
      getThreadsCount(): number;
    };
    const dir = wasmDir();
    wasm.setWasmPaths(dir);
    registerWasmKernels();
    // tfjs reads this flag to pick the threaded build; under Node it says false (wasm-threads.ts bridges the rest).
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', threads > 1);
    const set = () => setBackendChecked('wasm');
    // A wrong path makes setBackend resolve to false rather than throw.
    if (!(await (threads > 1 ? withWasmThreads(threads, set) : set()))) {
      const what =
        threads > 1
          ? `the threaded wasm build (REWARD_TUNE_WASM_THREADS=${threads}; 1 turns it off) did not start`
          : 'wasm binaries not loadable';
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
