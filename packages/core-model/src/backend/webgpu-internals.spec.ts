// The webgpu patches' bookkeeping on a stand-in backend (no GPU needed): which buffer an upload gets, that a kernel's
// given output never lands in a shared scalar buffer, that kept uniforms leave tfjs's release list, that bind groups
// are memoised on their exact buffers, and that the free pool hands out its oldest buffer. Their numerical effect
// is checked against the cpu backend in webgpu-parity.spec.ts, where a WebGPU adapter exists.
import * as tf from '@tensorflow/tfjs-core';
import { patchWebgpuBackend, webgpuPatchesOn } from './webgpu-internals';

interface Data {
  values: Float32Array | Int32Array | null;
  dtype: tf.DataType;
  shape: number[];
  resource: unknown;
  external?: boolean;
}

/** A stand-in with the fields the patches use, recording what they do. */
function fakeBackend() {
  let n = 0;
  const created: { label: string; size: number }[] = [];
  const writes: { buffer: { label: string }; bytes: number[] }[] = [];
  const tensorMap = new Map<object, Data>();
  const freeBuffers = new Map<string, object[]>();
  const uniformPendingDisposal: object[] = [];
  const device = {
    createBuffer: (d: { size: number }) => {
      const b = { label: `b${n++}`, size: d.size };
      created.push(b);
      return b;
    },
    createBindGroup: (d: unknown) => ({ group: n++, d }),
  };
  const backend = {
    device,
    queue: {
      writeBuffer: (buffer: { label: string }, _o: number, data: ArrayBufferLike, off: number, size: number) =>
        writes.push({ buffer, bytes: Array.from(new Float32Array(data.slice(off, off + size) as ArrayBuffer)) }),
    },
    tensorMap,
    bufferManager: {
      freeBuffers,
      acquireBuffer(size: number, usage: number) {
        const free = freeBuffers.get(`${size}_${usage}`);
        return free !== undefined && free.length > 0 ? free.pop() : device.createBuffer({ size });
      },
    },
    uploadToGPU: (dataId: object) => {
      throw new Error(`original uploadToGPU called for ${JSON.stringify(tensorMap.get(dataId)?.shape)}`);
    },
    runWebGPUProgram: (
      _p: unknown,
      inputs: tf.TensorInfo[],
      dtype: tf.DataType,
      _u: unknown,
      output?: tf.TensorInfo,
    ) => {
      for (const t of inputs) backend.uploadToGPU(t.dataId);
      return output ?? { dataId: {}, shape: [], dtype };
    },
    makeUniforms: (u: { type: string; data: number[] }[]) => {
      const buffer = device.createBuffer({ size: 4 * u.length });
      uniformPendingDisposal.push(buffer);
      return { offset: 0, size: 4 * u.length, buffer };
    },
    uniformPendingDisposal,
  };
  const tensor = (values: number[], shape: number[]): tf.TensorInfo => {
    const dataId = {};
    tensorMap.set(dataId, { values: Float32Array.from(values), dtype: 'float32', shape, resource: null });
    return { dataId, shape, dtype: 'float32' };
  };
  return { backend, created, writes, tensorMap, freeBuffers, tensor };
}

describe('webgpu patches (stand-in backend)', () => {
  it('uploads go through writeBuffer into a pooled buffer; one buffer per scalar value, marked external', () => {
    const f = fakeBackend();
    const stats = patchWebgpuBackend(f.backend);
    const v = f.tensor([1, 2, 3], [3]);
    f.backend.uploadToGPU(v.dataId);
    const d = f.tensorMap.get(v.dataId)!;
    expect(d.values).toBeNull();
    expect(f.writes).toEqual([{ buffer: d.resource, bytes: [1, 2, 3] }]);
    const [s1, s2, s3] = [f.tensor([0.5], []), f.tensor([0.5], [1]), f.tensor([-0.5], [])];
    for (const s of [s1, s2, s3]) f.backend.uploadToGPU(s.dataId);
    expect(f.tensorMap.get(s1.dataId)!.resource).toBe(f.tensorMap.get(s2.dataId)!.resource);
    expect(f.tensorMap.get(s3.dataId)!.resource).not.toBe(f.tensorMap.get(s1.dataId)!.resource);
    expect(f.tensorMap.get(s1.dataId)!.external).toBe(true);
    expect(stats).toMatchObject({ uploads: 1, scalarHits: 1 });
  });

  it("a kernel's given output gets a buffer of its own, even a one-element one holding a cached value", () => {
    const f = fakeBackend();
    patchWebgpuBackend(f.backend);
    const shared = f.tensor([0], []);
    f.backend.uploadToGPU(shared.dataId);
    const out = f.tensor([0], [1]);
    f.backend.runWebGPUProgram({}, [], 'float32', undefined, out);
    const d = f.tensorMap.get(out.dataId)!;
    expect(d.resource).not.toBe(f.tensorMap.get(shared.dataId)!.resource);
    expect(d.external).toBeUndefined();
  });

  it('uniforms: one buffer per content, taken out of the release list; the same content is not written again', () => {
    const f = fakeBackend();
    const stats = patchWebgpuBackend(f.backend);
    const u = () => [
      { type: 'int32', data: [3, 4] },
      { type: 'float32', data: [NaN] },
    ];
    const a = f.backend.makeUniforms(u());
    const b = f.backend.makeUniforms(u());
    const c = f.backend.makeUniforms([
      { type: 'int32', data: [3, 5] },
      { type: 'float32', data: [NaN] },
    ]);
    expect(b).toBe(a);
    expect(c.buffer).not.toBe(a.buffer);
    expect(f.backend.uniformPendingDisposal).toEqual([]);
    expect(stats.uniformHits).toBe(1);
  });

  it('bind groups are memoised on layout and exact buffer ranges; the pool hands out its oldest buffer', () => {
    const f = fakeBackend();
    const stats = patchWebgpuBackend(f.backend);
    const layout = {};
    const [x, y, z] = [{ id: 'x' }, { id: 'y' }, { id: 'z' }];
    const group = (buf: object, size: number) =>
      f.backend.device.createBindGroup({
        layout,
        entries: [{ binding: 0, resource: { buffer: buf, offset: 0, size } }],
      });
    const g1 = group(x, 16);
    expect(group(x, 16)).toBe(g1);
    expect(group(x, 32)).not.toBe(g1);
    expect(group(y, 16)).not.toBe(g1);
    expect(stats).toMatchObject({ bindGroupHits: 1, bindGroupsCreated: 3 });
    // x and y have ids from above; z is seen last. tfjs would pop z (the last freed): the patch gives x.
    f.freeBuffers.set('16_8', [y, x, z]);
    expect(f.backend.bufferManager.acquireBuffer(16, 8)).toBe(x);
    expect(f.backend.bufferManager.acquireBuffer(16, 8)).toBe(y);
  });

  it('patching twice returns the same counters and fails on a backend of another shape', () => {
    const f = fakeBackend();
    expect(patchWebgpuBackend(f.backend)).toBe(patchWebgpuBackend(f.backend));
    expect(() => patchWebgpuBackend({ ...f.backend, makeUniforms: undefined })).toThrow(
      /no 'makeUniforms' on the backend/,
    );
  });

  it('the pinned tfjs-backend-webgpu still has what the patches lean on', () => {
    // Loading it without navigator.gpu registers no backend but exports the class.
    // Loaded here, after the test removed navigator.gpu:
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { WebGPUBackend } = require('@tensorflow/tfjs-backend-webgpu') as {
      WebGPUBackend: { prototype: Record<string, () => void> };
    };
    const src = (name: string): string => String(WebGPUBackend.prototype[name]);
    expect(src('uploadToGPU')).toMatch(/tensorData\.values/);
    expect(src('runWebGPUProgram')).toMatch(/this\.uploadToGPU\(output\.dataId\)/);
    expect(src('makeUniforms')).toMatch(/uniformPendingDisposal\.push\(uniformBuffer\)/);
    expect(src('releaseResource')).toMatch(/tensorData\.external/);
    expect(src('recordAndSubmit')).toMatch(
      /getBindGroupLayout\(0\)[\s\S]*createBindGroup|createBindGroup[\s\S]*getBindGroupLayout\(0\)/,
    );
  });

  it('REWARD_TUNE_WEBGPU_PATCHES: unset or 1 on, 0 off, anything else a usage error naming the variable', () => {
    expect(webgpuPatchesOn({})).toBe(true);
    expect(webgpuPatchesOn({ REWARD_TUNE_WEBGPU_PATCHES: '1' })).toBe(true);
    expect(webgpuPatchesOn({ REWARD_TUNE_WEBGPU_PATCHES: '0' })).toBe(false);
    expect(() => webgpuPatchesOn({ REWARD_TUNE_WEBGPU_PATCHES: 'yes' })).toThrow(
      /^REWARD_TUNE_WEBGPU_PATCHES must be 0 or 1, got "yes"/,
    );
  });
});
