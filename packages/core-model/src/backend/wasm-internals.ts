/**
 * What the project's wasm kernels (wasm-kernels.ts, native-matmul.ts) rely on of tfjs-backend-wasm 4.22's internals, in
 * one place: the backend object's fields they use, and how a kernel of ours replaces a registered wasm kernel while
 * keeping it for the cases it leaves to it. The version is pinned in package.json; each kernel's spec fails if an
 * upgrade changes these.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WasmMemory } from './wasm-simd';

/** The parts of tfjs-backend-wasm 4.22's backend object (BackendWasm) that our kernels use. */
export interface WasmBackendInternals {
  dataIdNextNumber: number;
  readonly dataIdMap: { get(dataId: object): { memoryOffset: number } };
  readonly wasm: {
    cwrap(name: string, ret: null, args: string[]): (...a: unknown[]) => void;
    readonly tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
    /** The module's exports; `memory` is the heap every tensor lives in. */
    readonly asm?: { readonly memory?: WasmMemory };
  };
  incRef(dataId: object): void;
  disposeData(dataId: object): boolean;
  /** How many tensors share the buffer of `dataId`. */
  refCount(dataId: object): number;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: tf.TypedArray): tf.TensorInfo;
  /**
   * A view of the tensor's values in the wasm heap. Take it after the last allocation (makeOutput): an allocation may
   * grow the heap and detach older views.
   */
  typedArrayFromHeap(t: tf.TensorInfo): tf.TypedArray;
}

/** A kernel function's backend argument, as the wasm backend it is. */
export const wasmBackend = (backend: unknown): WasmBackendInternals => backend as WasmBackendInternals;

/** Where a tensor's values start in the wasm heap, in bytes (an offset: it stays valid when the heap grows). */
export const heapOffset = (be: WasmBackendInternals, t: tf.TensorInfo): number =>
  be.dataIdMap.get(t.dataId).memoryOffset;

/**
 * Registers `make(previous)` as the wasm kernel `name`, where `previous` is the kernel function registered until now
 * (ours fall back to it for what they do not handle). False, and nothing changed, when there is none.
 */
export function replaceWasmKernel(name: string, make: (previous: tf.KernelFunc) => tf.KernelFunc): boolean {
  const previous = tf.getKernel(name, 'wasm');
  if (previous === undefined) return false;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...previous, kernelFunc: make(previous.kernelFunc) });
  return true;
}
