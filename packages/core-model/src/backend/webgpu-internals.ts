/**
 * What the project changes in tfjs-backend-webgpu 4.22's per-kernel path, in one place, and why. A bench-small
 * training step on an NVIDIA H200 launched ~2,000 GPU kernels in 480 ms of wall time against 151 ms of GPU time;
 * a CPU profile of that step (`node --cpu-prof … bench --config bench-small --backend webgpu`) put the rest in two
 * Dawn calls that tfjs makes per kernel, not in the kernels:
 *
 * - **Uploads** (~170 ms a step): every tensor whose values sit on the CPU — each `tf.mul(x, 0.5)` makes one, and
 *   so do tfjs's gradients (`ones(x.shape)` in Sum's) — is uploaded when a kernel first reads it, through a new
 *   buffer mapped at creation, or, when the pool has a free one, a new mapped staging buffer plus a copy that also
 *   ends the compute pass. A mapped `createBuffer` costs ~30 µs in Dawn (`tools/bench/dawn-calls.mjs`). Here an
 *   upload takes a pooled buffer and `queue.writeBuffer` (~1.5 µs; tfjs's own uniforms go this way), and a
 *   one-element tensor (scalars) reuses one buffer per value for the life of the backend.
 * - **Bind groups** (~20 µs each in Dawn, one per kernel): tfjs builds a fresh one per kernel from the output, the
 *   inputs and a uniform buffer. Here uniforms get one buffer per distinct content, and the buffer pool hands out
 *   its oldest free buffer (tfjs's hands out the newest, which permutes a step's buffers from one step to the next),
 *   so the same groups recur step after step; `device.createBindGroup` is memoised on the layout and the exact
 *   buffer ranges.
 *
 * Why these are safe: a buffer in tfjs's free pool is referenced by no command still being recorded (tfjs defers a
 * tensor's release until the commands using it are submitted), and `writeBuffer` is ordered after everything
 * submitted before it, which is also what tfjs relies on for its uniforms. A cached scalar buffer is marked
 * `external`, which tfjs never releases into the pool, and is never used as a kernel's output (the only case where
 * tfjs writes into an existing tensor's buffer: `runWebGPUProgram(…, output)`). A kept uniform buffer is taken out of
 * tfjs's release list, so it is written once. A memoised bind group names the very buffers a new one would.
 * `webgpu-parity.spec.ts` checks training steps against the cpu backend (where a WebGPU adapter exists);
 * `webgpu-internals.spec.ts` checks the bookkeeping, and fails if an upgrade of the pinned version changes what the
 * patches lean on.
 */
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../command-line';

/**
 * REWARD_TUNE_WEBGPU_PATCHES: unset or `1` applies the patches below and the fused kernels of webgpu-kernels.ts,
 * `0` leaves tfjs's own kernels and path (to compare the two in one bench session).
 */
export function webgpuPatchesOn(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.REWARD_TUNE_WEBGPU_PATCHES;
  if (v === undefined || v === '' || v === '1') return true;
  if (v === '0') return false;
  throw new UsageError(`REWARD_TUNE_WEBGPU_PATCHES must be 0 or 1, got ${JSON.stringify(v)}`);
}

interface TensorData {
  values: tf.backend_util.BackendValues | null;
  dtype: tf.DataType;
  shape: number[];
  resource: unknown;
  external?: boolean;
}

/** The parts of tfjs-backend-webgpu 4.22's WebGPUBackend that the patches below use. */
export interface WebgpuBackendInternals {
  readonly device: GpuDeviceLike;
  readonly queue: {
    writeBuffer(buffer: unknown, offset: number, data: ArrayBufferLike, dataOffset: number, size: number): void;
  };
  readonly tensorMap: { get(dataId: object): TensorData | undefined };
  readonly bufferManager: {
    acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): unknown;
    /** Free buffers by `${size}_${usage}`; acquireBuffer pops the last one. */
    readonly freeBuffers: Map<string, object[]>;
  };
  uploadToGPU(dataId: object): void;
  /** Packs a kernel's uniforms into a pooled uniform buffer (written now, released at the next submit). */
  makeUniforms(uniforms: readonly { type: string; data: number[] }[]): { offset: number; size: number; buffer: object };
  readonly uniformPendingDisposal: object[];
  runWebGPUProgram(
    program: unknown,
    inputs: tf.TensorInfo[],
    dtype: tf.DataType,
    uniforms?: unknown,
    output?: tf.TensorInfo,
  ): tf.TensorInfo;
}

interface BufferBinding {
  readonly buffer?: object;
  readonly offset?: number;
  readonly size?: number;
}

interface BindGroupDescriptor {
  readonly layout: object;
  readonly entries: readonly { readonly binding: number; readonly resource: BufferBinding | object }[];
}

interface GpuDeviceLike {
  createBuffer(d: { size: number; usage: number }): unknown;
  createBindGroup(d: BindGroupDescriptor): unknown;
}

/** Counters for tests and the bench: how often each patch took its fast path. */
export interface WebgpuPatchStats {
  uploads: number;
  scalarHits: number;
  uniformHits: number;
  bindGroupsCreated: number;
  bindGroupHits: number;
}

/** Distinct scalar values kept on the GPU (a learning-rate schedule makes a new one per step); past it, uploads. */
const MAX_CACHED_SCALARS = 4096;
/** Distinct uniform contents kept in buffers of their own. */
const MAX_CACHED_UNIFORMS = 16384;
/** Memoised bind groups; the map is emptied when it reaches this (a step of bench-small needs ~2,000). */
const MAX_CACHED_BIND_GROUPS = 32768;

const STORAGE_USAGE = 0x80 | 0x04 | 0x08; // GPUBufferUsage.STORAGE | COPY_SRC | COPY_DST, as tfjs's tensor buffers

const patched = new WeakMap<object, WebgpuPatchStats>();
/** Marks GPUComputePipeline.prototype once its getBindGroupLayout is memoised. */
const LAYOUTS = Symbol.for('reward-tune.memoisedBindGroupLayouts');

/** The counters of the active backend's patches; undefined when it is not a patched webgpu backend. */
export function webgpuPatchStats(): WebgpuPatchStats | undefined {
  return patched.get(tf.backend() as object);
}

const deviceErrors = new WeakMap<object, { count: number; first: string }>();

/**
 * Records the WebGPU errors of the backend's device (once per backend). Dawn reports a validation error — an
 * invalid pipeline, say — or an out-of-memory error as an event; tfjs listens to none, so the kernels involved do
 * nothing and the run carries on with wrong numbers. readTensor (primitives.ts) fails on the first read after one.
 */
export function watchWebgpuErrors(backendObject: unknown): void {
  const device = (
    backendObject as {
      device?: { addEventListener?(type: string, f: (e: { error?: { message?: string } }) => void): void };
    }
  ).device;
  if (device?.addEventListener === undefined || deviceErrors.has(backendObject as object)) return;
  const record = { count: 0, first: '' };
  deviceErrors.set(backendObject as object, record);
  device.addEventListener('uncapturederror', (e) => {
    if (record.count++ === 0) record.first = String(e.error?.message ?? e).split('\n')[0];
  });
}

/** The active backend's WebGPU errors so far (null when none, or when it is not a watched webgpu backend). */
export function webgpuErrors(): { count: number; first: string } | null {
  const r = deviceErrors.get(tf.backend() as object);
  return r === undefined || r.count === 0 ? null : { ...r };
}

/** The values as the 32-bit array tfjs stores on the GPU (bool and int32 as int32), without copying when they are. */
function asGpuArray(values: tf.backend_util.BackendValues, dtype: tf.DataType): Float32Array | Int32Array {
  if (dtype === 'float32')
    return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
  return values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>);
}

/**
 * Patches the active webgpu backend (once; later calls return the same counters). Call after setBackend('webgpu').
 */
export function patchWebgpuBackend(backendObject: unknown): WebgpuPatchStats {
  const backend = backendObject as WebgpuBackendInternals;
  const done = patched.get(backend);
  if (done !== undefined) return done;
  const fields = [
    'device',
    'queue',
    'tensorMap',
    'bufferManager',
    'uploadToGPU',
    'runWebGPUProgram',
    'makeUniforms',
    'uniformPendingDisposal',
  ] as const;
  for (const field of fields) {
    if (backend[field] === undefined)
      throw new Error(`tfjs-backend-webgpu: no '${field}' on the backend (version changed?)`);
  }
  const stats: WebgpuPatchStats = { uploads: 0, scalarHits: 0, uniformHits: 0, bindGroupsCreated: 0, bindGroupHits: 0 };

  // --- uploads ---------------------------------------------------------------------------------------------------
  const originalUpload = backend.uploadToGPU.bind(backend);
  const scalars = new Map<string, unknown>();
  const bits = new Int32Array(1);
  const bitsF = new Float32Array(bits.buffer);
  let writingOutput = false;
  backend.uploadToGPU = (dataId: object): void => {
    const d = backend.tensorMap.get(dataId);
    if (d === undefined || d.resource != null || d.values == null) return originalUpload(dataId);
    if (d.dtype !== 'float32' && d.dtype !== 'int32' && d.dtype !== 'bool') return originalUpload(dataId);
    const n = tf.util.sizeFromShape(d.shape);
    if (n === 0) return originalUpload(dataId);
    const data = asGpuArray(d.values, d.dtype);
    if (n === 1 && !writingOutput) {
      if (d.dtype === 'float32') bitsF[0] = data[0];
      else bits[0] = data[0];
      const key = `${d.dtype === 'float32' ? 'f' : 'i'}${bits[0]}`;
      let buffer = scalars.get(key);
      if (buffer === undefined && scalars.size < MAX_CACHED_SCALARS) {
        buffer = backend.device.createBuffer({ size: 4, usage: STORAGE_USAGE });
        backend.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, 4);
        scalars.set(key, buffer);
      } else if (buffer !== undefined) {
        stats.scalarHits++;
      }
      if (buffer !== undefined) {
        d.values = null;
        d.resource = buffer;
        d.external = true; // tfjs's releaseResource leaves external buffers alone
        return;
      }
    }
    const buffer = backend.bufferManager.acquireBuffer(4 * n, STORAGE_USAGE);
    backend.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, 4 * n);
    d.values = null; // as tfjs: once uploaded, the values live on the GPU only
    d.resource = buffer;
    stats.uploads++;
  };
  // A kernel given an existing output writes into its buffer: that buffer must never be a shared scalar.
  const originalRun = backend.runWebGPUProgram.bind(backend);
  backend.runWebGPUProgram = (program, inputs, dtype, uniforms, output) => {
    if (output !== undefined) {
      writingOutput = true;
      try {
        backend.uploadToGPU(output.dataId);
      } finally {
        writingOutput = false;
      }
    }
    return originalRun(program, inputs, dtype, uniforms, output);
  };

  // --- uniforms --------------------------------------------------------------------------------------------------
  // A kernel's uniforms are its shapes, strides and attributes: the same from one training step to the next. One
  // buffer per distinct content, written once and never again, lets a memoised bind group find the same uniform
  // buffer every step (pooled ones come back in another order after each submit) and saves the write.
  const originalUniforms = backend.makeUniforms.bind(backend);
  const uniformBuffers = new Map<string, ReturnType<WebgpuBackendInternals['makeUniforms']>>();
  backend.makeUniforms = (uniforms) => {
    let key = '';
    for (const u of uniforms) {
      key += `${u.type[0]}${u.data.length === 0 ? '1' : u.data.map((v) => (Object.is(v, -0) ? '-0' : v)).join(',')};`;
    }
    const hit = uniformBuffers.get(key);
    if (hit !== undefined) {
      stats.uniformHits++;
      return hit;
    }
    const binding = originalUniforms(uniforms);
    const pending = backend.uniformPendingDisposal;
    if (uniformBuffers.size < MAX_CACHED_UNIFORMS && pending[pending.length - 1] === binding.buffer) {
      pending.pop(); // ours from now on: never released to the pool, so never rewritten
      uniformBuffers.set(key, binding);
    }
    return binding;
  };

  // --- bind groups -----------------------------------------------------------------------------------------------
  const device = backend.device;
  const createBindGroup = device.createBindGroup.bind(device);
  const ids = new WeakMap<object, number>();
  let nextId = 1;
  const idOf = (o: object): number => {
    let id = ids.get(o);
    if (id === undefined) {
      id = nextId++;
      ids.set(o, id);
    }
    return id;
  };
  // tfjs hands out the most recently freed buffer of a size, so which buffer a tensor gets depends on the order of
  // earlier frees, and a step's buffers come out permuted from one step to the next: no bind group would recur.
  // Handing out the oldest free buffer (lowest id) makes the choice depend only on which buffers are free.
  const manager = backend.bufferManager;
  const acquire = manager.acquireBuffer.bind(manager);
  manager.acquireBuffer = (size, usage, mappedAtCreation = false, reuse = true) => {
    const free = reuse ? manager.freeBuffers.get(`${size}_${usage}`) : undefined;
    if (free !== undefined && free.length > 1) {
      let best = free.length - 1;
      let bestId = idOf(free[best]);
      for (let i = free.length - 2; i >= 0; i--) {
        const id = idOf(free[i]);
        if (id < bestId) [best, bestId] = [i, id];
      }
      [free[best], free[free.length - 1]] = [free[free.length - 1], free[best]];
    }
    return acquire(size, usage, mappedAtCreation, reuse);
  };
  const groups = new Map<string, unknown>();
  device.createBindGroup = (desc: BindGroupDescriptor): unknown => {
    let key = `${idOf(desc.layout)}`;
    for (const e of desc.entries) {
      const r = e.resource as BufferBinding;
      if (r.buffer === undefined) return createBindGroup(desc); // a texture view: not memoised
      key += `|${e.binding}:${idOf(r.buffer)}:${r.offset ?? 0}:${r.size ?? -1}`;
    }
    const hit = groups.get(key);
    if (hit !== undefined) {
      stats.bindGroupHits++;
      return hit;
    }
    if (groups.size >= MAX_CACHED_BIND_GROUPS) groups.clear();
    const group = createBindGroup(desc);
    groups.set(key, group);
    stats.bindGroupsCreated++;
    return group;
  };
  // tfjs asks each pipeline for its layout per kernel; one object per pipeline keeps the memo keys stable.
  const pipelineProto = (
    globalThis as { GPUComputePipeline?: { prototype: { getBindGroupLayout(i: number): object } } }
  ).GPUComputePipeline?.prototype;
  if (pipelineProto !== undefined && !(LAYOUTS in pipelineProto)) {
    const getLayout = pipelineProto.getBindGroupLayout;
    const layouts = new WeakMap<object, Map<number, object>>();
    Object.defineProperty(pipelineProto, LAYOUTS, { value: true });
    pipelineProto.getBindGroupLayout = function (this: object, index: number): object {
      let m = layouts.get(this);
      if (m === undefined) layouts.set(this, (m = new Map()));
      let l = m.get(index);
      if (l === undefined) m.set(index, (l = getLayout.call(this, index)));
      return l;
    };
  }

  patched.set(backend, stats);
  return stats;
}
