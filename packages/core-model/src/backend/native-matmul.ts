/**
 * Native matrix products for the wasm backend. tfjs's wasm BatchMatMul (XNNPACK through 128-bit wasm SIMD) reaches
 * 4–15 GFLOP/s here, and matrix products are ~75 % of a training step; a native single-threaded GEMM (AVX2/AVX-512)
 * reaches 35–50 GFLOP/s on the same shapes. onnxruntime-node ships such a GEMM (MLAS) as prebuilt binaries inside its
 * npm package, so it installs with `npm ci` and nothing else. When that optional package and koffi (an FFI for Node,
 * also prebuilt) load, this module replaces the wasm backend's BatchMatMul by one that calls onnxruntime's C API on
 * tensors made over the wasm heap itself: operands read and the product written in place, nothing copied or allocated
 * on the JS side. (onnxruntime-node's own binding copies each result into a fresh ArrayBuffer; at ~300 MB a bench-tiny
 * step, those copies and the garbage collections they set off were ~15 % of the step.)
 *
 * Each call runs a one-node ONNX graph (`com.microsoft` FusedMatMul: numpy-broadcast batched matMul with transpose
 * flags, so flagged products need no explicit transpose) with dynamic shapes, synchronously (tfjs kernels are
 * synchronous). One intra-op thread by default: the comparison with PyTorch in the README is thread for thread, and
 * two processes share this machine's two cores in the tests; `REWARD_TUNE_NATIVE_MATMUL=N` gives it N threads, and `0`
 * turns it off (wasm's own kernels then run everything, as before).
 *
 * Relies on the C API's table layout (indices below; onnxruntime only appends to it) and on the library's place in
 * onnxruntime-node 1.30's package (pinned in package.json); `native-matmul.spec.ts` checks the products, flags,
 * broadcasting and gradients against a naive product.
 */
import * as tf from '@tensorflow/tfjs-core';
import { firstLine, UsageError } from '../command-line';
import fs from 'node:fs';
import path from 'node:path';
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
// onnxruntime's C API, called through koffi (both loaded lazily)

/** The few OrtApi members used here, by their index in that table of function pointers (onnxruntime only appends). */
const ORT_API = {
  GetErrorMessage: 2,
  CreateEnv: 3,
  CreateSessionFromArray: 8,
  Run: 9,
  CreateSessionOptions: 10,
  SetIntraOpNumThreads: 24,
  SetInterOpNumThreads: 25,
  CreateTensorWithDataAsOrtValue: 49,
  CreateCpuMemoryInfo: 69,
  ReleaseStatus: 93,
  ReleaseValue: 96,
  AddSessionConfigEntry: 130,
} as const;
/** The API version asked of OrtGetApiBase()->GetApi: old enough for any onnxruntime 1.x these members exist in. */
const ORT_API_VERSION = 13;
const ORT_FLOAT = 1; // ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT

/** What this module uses of koffi (an optional dependency: a C FFI for Node with prebuilt binaries). */
interface Koffi {
  load(path: string): { func(signature: string): (...args: unknown[]) => unknown };
  proto(signature: string): unknown;
  decode(ptr: unknown, offset: number, type: string): unknown;
  sizeof(type: string): number;
  call(ptr: unknown, proto: unknown, ...args: unknown[]): unknown;
}

/** The shared library inside onnxruntime-node's package for this platform (the one its own binding loads). */
function ortLibraryPath(): string {
  const dir = path.join(
    path.dirname(require.resolve('onnxruntime-node/package.json')),
    'bin',
    'napi-v6',
    process.platform,
    process.arch,
  );
  const lib = fs
    .readdirSync(dir)
    .find((f) => /^(libonnxruntime\.so\.\d+|libonnxruntime\.\d+\.dylib|onnxruntime\.dll)$/.test(f));
  if (lib === undefined) throw new Error(`no onnxruntime library in ${dir}`);
  return path.join(dir, lib);
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

/** The C API's calls this module makes, bound once per copy of this module. */
interface OrtC {
  readonly version: string;
  /** koffi unloads a library when its handle is collected: held here, onnxruntime stays mapped while this lives. */
  readonly library: unknown;
  /** A session of the one-node graph with `threads` intra-op threads. */
  session(model: Uint8Array, threads: number): unknown;
  /** Runs `session` on tensors made over the three arrays (no copies), releasing them afterwards. */
  run(
    session: unknown,
    a: Float32Array,
    aShape: readonly number[],
    b: Float32Array,
    bShape: readonly number[],
    y: Float32Array,
    yShape: readonly number[],
  ): void;
}

let ortC: OrtC | string | undefined;

/**
 * onnxruntime's C API from the library inside onnxruntime-node, called through koffi, bound once per process; a
 * reason string when either package is missing. Tensors are made over the caller's memory
 * (`CreateTensorWithDataAsOrtValue`; koffi passes C a typed array's own address, not a copy).
 */
function loadOrtC(): OrtC | string {
  if (ortC !== undefined) return ortC;
  let koffi: Koffi, version: string, lib: ReturnType<Koffi['load']>;
  try {
    koffi = lazyRequire('koffi') as Koffi;
    version = (lazyRequire('onnxruntime-node/package.json') as { version: string }).version;
    lib = koffi.load(ortLibraryPath());
  } catch (e) {
    return (ortC = `onnxruntime-node or koffi not loadable (${firstLine(e)})`);
  }
  try {
    // koffi names each prototype in one registry per process, which a second copy of this module shares (Jest's
    // sandboxes, two bundles): a suffix of its own keeps this copy's names apart.
    const suffix = Math.random().toString(36).slice(2, 10);
    const base = lib.func('void *OrtGetApiBase()')();
    const getApi = koffi.proto(`void *OrtGetApi_${suffix}(uint32_t)`);
    const api = koffi.call(koffi.decode(base, 0, 'void *'), getApi, ORT_API_VERSION);
    if (api === null) throw new Error(`GetApi(${ORT_API_VERSION}) returned null`);
    const fn = (name: keyof typeof ORT_API, signature: string) => {
      const ptr = koffi.decode(api, ORT_API[name] * koffi.sizeof('void *'), 'void *');
      const proto = koffi.proto(signature.replace('(', ` Ort${name}_${suffix}(`));
      return (...args: unknown[]) => koffi.call(ptr, proto, ...args);
    };
    const errorMessage = fn('GetErrorMessage', 'const char *(void *status)');
    const releaseStatus = fn('ReleaseStatus', 'void (void *status)');
    // Each call returns an OrtStatus*: null on success, else the error, read and released here.
    const check = (status: unknown, what: string): void => {
      if (status === null) return;
      const message = errorMessage(status) as string;
      releaseStatus(status);
      throw new Error(`${what}: ${message}`);
    };
    const createEnv = fn('CreateEnv', 'void *(int level, const char *id, _Out_ void **env)');
    const createOptions = fn('CreateSessionOptions', 'void *(_Out_ void **options)');
    const setIntra = fn('SetIntraOpNumThreads', 'void *(void *options, int n)');
    const setInter = fn('SetInterOpNumThreads', 'void *(void *options, int n)');
    const addConfig = fn('AddSessionConfigEntry', 'void *(void *options, const char *key, const char *value)');
    const createInfo = fn('CreateCpuMemoryInfo', 'void *(int allocator, int memType, _Out_ void **info)');
    const fromArray = fn(
      'CreateSessionFromArray',
      'void *(void *env, const void *model, size_t length, void *options, _Out_ void **session)',
    );
    const createTensor = fn(
      'CreateTensorWithDataAsOrtValue',
      'void *(void *info, void *data, size_t length, const int64_t *shape, size_t rank, int type, _Out_ void **value)',
    );
    const runSession = fn(
      'Run',
      'void *(void *session, void *runOptions, const char **inputNames, void **inputs, size_t inputCount, ' +
        'const char **outputNames, size_t outputCount, void **outputs)',
    );
    const releaseValue = fn('ReleaseValue', 'void (void *value)');

    // The process's one OrtEnv (onnxruntime hands back the same one if it exists), warnings and up.
    const env: [unknown] = [null];
    check(createEnv(2, 'reward-tune', env), 'CreateEnv');
    const info: [unknown] = [null];
    check(createInfo(1 /* arena allocator */, 0 /* default memory */, info), 'CreateCpuMemoryInfo');
    const tensor = (data: Float32Array, shape: readonly number[]): unknown => {
      const value: [unknown] = [null];
      const dims = BigInt64Array.from(shape, (d) => BigInt(d));
      check(createTensor(info[0], data, data.byteLength, dims, shape.length, ORT_FLOAT, value), 'CreateTensor');
      return value[0];
    };
    const inputNames = ['A', 'B'],
      outputNames = ['Y'];
    ortC = {
      version,
      library: lib,
      session(model, threads) {
        const options: [unknown] = [null];
        check(createOptions(options), 'CreateSessionOptions');
        check(setIntra(options[0], threads), 'SetIntraOpNumThreads');
        check(setInter(options[0], 1), 'SetInterOpNumThreads');
        // Pool threads would otherwise spin between products, taking the core the JS thread needs for the rest.
        check(addConfig(options[0], 'session.intra_op.allow_spinning', '0'), 'AddSessionConfigEntry');
        const session: [unknown] = [null];
        check(fromArray(env[0], model, model.byteLength, options[0], session), 'CreateSessionFromArray');
        return session[0];
      },
      run(session, a, aShape, b, bShape, y, yShape) {
        const va = tensor(a, aShape),
          vb = tensor(b, bShape),
          vy = tensor(y, yShape);
        try {
          check(runSession(session, null, inputNames, [va, vb], 2, outputNames, 1, [vy]), 'Run');
        } finally {
          releaseValue(va);
          releaseValue(vb);
          releaseValue(vy);
        }
      },
    };
    return ortC;
  } catch (e) {
    return (ortC = `onnxruntime ${version}'s C API not usable here (${firstLine(e)})`);
  }
}

/** Builds the four sessions (transpose flags) with `threads` intra-op threads; a reason string when it cannot. */
export function loadNativeMatMul(threads = 1): NativeMatMul | string {
  const ort = loadOrtC();
  if (typeof ort === 'string') return ort;
  let sessions: unknown[];
  try {
    sessions = [
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ].map(([ta, tb]) => ort.session(fusedMatMulModel(ta, tb), threads));
  } catch (e) {
    // E.g. a later onnxruntime that no longer knows FusedMatMul: wasm's kernels then run everything.
    return `onnxruntime ${ort.version} refused the matMul graph (${firstLine(e)})`;
  }
  return {
    detail: `onnxruntime-node ${ort.version}, ${threads} thread${threads === 1 ? '' : 's'}`,
    run(a, aShape, b, bShape, transA, transB, y, yShape) {
      ort.run(sessions[(transA ? 2 : 0) + (transB ? 1 : 0)], a, aShape, b, bShape, y, yShape);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The kernel

/**
 * Products smaller than this many multiply-adds stay on wasm's kernel. Chosen when a call through onnxruntime-node's
 * binding cost ~30 µs; through the C API it costs ~9 µs (an [8, 8] product), but moving the line would change which
 * kernel, and so which rounding, small models' products get.
 */
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
  // The threaded build's heap is a SharedArrayBuffer: onnxruntime-node's binding refused it as tensor memory, and the
  // two (XNNPACK's pool and onnxruntime's) were never tried together through the C API. One or the other.
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
