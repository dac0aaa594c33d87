// Batch helpers: raw image buffers become tensors the caller owns; mismatched batches are caught.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { batchSize, imagesTensor } from './task';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('imagesTensor and batchSize', () => {
  it('wraps raw [B, H, W, C] values in a tensor the caller owns, and passes tensors through', () => {
    const raw = { data: Float32Array.from({ length: 2 * 2 * 1 * 3 }, (_, i) => i / 12), shape: [2, 2, 1, 3] as const };
    const made = imagesTensor(raw);
    expect(made.owned).toBe(true);
    expect(made.tensor.shape).toEqual([2, 2, 1, 3]);
    expect(Array.from(made.tensor.dataSync())).toEqual(Array.from(raw.data));
    const passed = imagesTensor(made.tensor);
    expect(passed).toEqual({ tensor: made.tensor, owned: false });
    made.tensor.dispose();
  });

  it('rejects a buffer of the wrong size and a batch whose examples do not match its images', () => {
    expect(() => imagesTensor({ data: new Float32Array(5), shape: [1, 2, 2, 1] })).toThrow(
      /5 values, expected 1×2×2×1/,
    );
    expect(batchSize({ images: { data: new Float32Array(8), shape: [2, 2, 2, 1] }, examples: ['a', 'b'] })).toBe(2);
    expect(() => batchSize({ images: { data: new Float32Array(8), shape: [2, 2, 2, 1] }, examples: ['a'] })).toThrow(
      /2 images but 1 examples/,
    );
  });
});
