/**
 * Finding a WebGPU adapter in Node: npm `webgpu` (Dawn) installed as `navigator.gpu`, the adapter request that
 * tfjs-backend-webgpu itself makes, and the judgement whether that adapter is a GPU or a software rasteriser (Mesa
 * lavapipe, SwiftShader), which `auto` skips because it trains slower than wasm. `webgpuAdapterInChild` asks the
 * same question in a child process, for test files that declare their webgpu tests or skip them.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { firstLine } from '../command-line';
import { lazyRequire } from './optional-require';

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

/** Installs Dawn's `navigator.gpu` (once); it must exist BEFORE tfjs-backend-webgpu is loaded: that
 * package registers its backend at load time only if `navigator.gpu` is there. */
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
