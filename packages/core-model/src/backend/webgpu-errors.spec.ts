// A WebGPU device error (here a buffer with no usage, a validation error) makes the next readTensor fail with the
// error's first line, instead of a run carrying on with kernels that silently did nothing. Its own file: the error
// stays recorded for the backend's life. Runs only where Dawn finds an adapter (see webgpu-parity.spec.ts).
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, readTensor, webgpuAdapterInChild } from './index';

const adapter = webgpuAdapterInChild();
const describeWithAdapter = adapter.ok ? describe : describe.skip;

describeWithAdapter(`webgpu device errors (${adapter.what})`, () => {
  it('reads work until the device reports an error; then readTensor throws with its first line', async () => {
    await initBackend('webgpu', { quiet: true });
    const x = tf.add(tf.ones([3]), 1);
    expect(Array.from(await readTensor(x))).toEqual([2, 2, 2]);
    (tf.backend() as unknown as { device: { createBuffer(d: object): unknown } }).device.createBuffer({
      size: 4,
      usage: 0,
    });
    await new Promise((r) => setTimeout(r, 200)); // the error arrives as an event
    await expect(readTensor(x)).rejects.toThrow(/^WebGPU reported 1 error\(s\); the first: /);
    x.dispose();
  });
});
