/**
 * Lets tfjs-backend-wasm 4.22 run its threaded SIMD build in Node, where tfjs turns it off (its
 * WASM_HAS_MULTITHREAD_SUPPORT flag is false under Node: tensorflow/tfjs#3830). Three things stand in the way; each is
 * bridged only while the backend initialises (`withWasmThreads`), and the globals are restored afterwards:
 *
 * 1. The module's pthread workers and its main script are handed over as `blob:` URLs, which Node's worker_threads
 *    cannot load. The two Blobs it builds are written to files in a temporary folder and their paths handed out
 *    instead; the workers' `load` message, which carries the main script as a Blob, is pointed at that file by a
 *    line appended to the worker's script.
 * 2. The main script is the factory's source text, which refers to the bundle's module aliases (`require$$0` …):
 *    the file defines them first.
 * 3. XNNPACK's thread pool is created when the module starts, with min(4, max(1, logical cores / 2)) threads (the
 *    native code halves the count for hyper-threading, so a 2-core machine gets 1): os.cpus() reports 2 × `threads`
 *    entries while the module starts.
 *
 * The emscripten runtime starts 8 workers during initialisation (more than XNNPACK's pool of at most 4 needs). Under
 * Node it keeps a worker referenced while a thread runs on it, and XNNPACK's pool threads run for the life of the
 * module, so a process would never exit: `releaseWasmThreads` unrefs them once the backend is up. The files stay
 * until the process exits.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../command-line';

// The module object itself (not an import namespace copy): emscripten reads os.cpus from it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const os = require('node:os') as typeof import('node:os');

/** What the factory's source expects from the bundle around it (tf-backend-wasm.node.js's rollup aliases). */
const MAIN_PRELUDE =
  "var require$$0=require('fs'),require$$1=require('path'),require$$3=require('perf_hooks'),require$$4=require('os');" +
  'var commonjsGlobal=globalThis;\n';

interface FileBlob {
  readonly __file: string;
}

/**
 * Runs `init` (which sets the wasm backend up) with the three bridges in place for `threads` threads; returns its
 * result. `threads` ≥ 2; tfjs caps XNNPACK's pool at 4.
 */
export async function withWasmThreads<T>(threads: number, init: () => Promise<T>): Promise<T> {
  if (!Number.isInteger(threads) || threads < 2)
    throw new RangeError(`withWasmThreads needs ≥ 2 threads, got ${threads}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reward-tune-wasm-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const g = globalThis as unknown as { Blob: typeof Blob };
  const realBlob = g.Blob;
  const realCreate = URL.createObjectURL;
  const realRevoke = URL.revokeObjectURL;
  const realCpus = os.cpus;
  let mainFile: string | undefined;

  // A constructor may return an object of its own: for the module's two scripts, a stand-in that names a file.
  function ShimBlob(this: unknown, parts: unknown[], options?: ConstructorParameters<typeof Blob>[1]): Blob | FileBlob {
    const text = Array.isArray(parts) && parts.every((p) => typeof p === 'string') ? parts.join('') : undefined;
    if (text?.startsWith('var WasmBackendModuleThreadedSimd')) {
      mainFile = path.join(dir, 'tfjs-backend-wasm-threaded-simd.js');
      fs.writeFileSync(mainFile, MAIN_PRELUDE + text);
      return { __file: mainFile };
    }
    if (text?.includes('WasmBackendModuleThreadedSimd(Module)') && mainFile !== undefined) {
      const file = path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js');
      const redirect = `;(function(){var o=self.onmessage;self.onmessage=function(e){if(e.data&&e.data.cmd==="load")e.data.urlOrBlob=${JSON.stringify(mainFile)};return o(e)}})();`;
      fs.writeFileSync(file, text + redirect);
      return { __file: file };
    }
    return new realBlob(parts as ConstructorParameters<typeof Blob>[0], options);
  }
  const cpus = realCpus();
  try {
    g.Blob = ShimBlob as unknown as typeof Blob;
    URL.createObjectURL = (b: Blob | FileBlob) => ('__file' in b ? b.__file : realCreate(b as Blob));
    URL.revokeObjectURL = (url: string) => (url.startsWith(dir) ? undefined : realRevoke(url));
    os.cpus = () => Array.from({ length: 2 * threads }, (_, i) => cpus[i % cpus.length]);
    return await init();
  } finally {
    g.Blob = realBlob;
    URL.createObjectURL = realCreate;
    URL.revokeObjectURL = realRevoke;
    os.cpus = realCpus;
  }
}

/** Unrefs the workers running XNNPACK's pool threads (see the file comment), given the backend's emscripten module. */
export function releaseWasmThreads(module: unknown): void {
  const pthread = (module as { PThread?: { runningWorkers?: { unref?: () => void }[] } }).PThread;
  for (const w of pthread?.runningWorkers ?? []) w.unref?.();
}

/**
 * Threads for the wasm backend: `REWARD_TUNE_WASM_THREADS` (at most 4, tfjs's cap); 1, the single-threaded build,
 * when unset. Opt-in: on the 2-core machine the bench-tiny training step gains 2–13 % (the matMuls split across the
 * threads, the many small ops do not), sampling none, and two processes side by side would fight over the cores
 * (docs/runtime.md, "wasm", "Threads").
 * A value that is not a positive integer is a UsageError (the user's to fix, not a reason to fall back).
 */
export function wasmThreadCount(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.REWARD_TUNE_WASM_THREADS;
  if (raw === undefined || raw === '') return 1;
  if (!/^\d+$/.test(raw) || Number(raw) < 1)
    throw new UsageError(`REWARD_TUNE_WASM_THREADS must be a positive integer, got '${raw}'`);
  return Math.min(4, Number(raw));
}
