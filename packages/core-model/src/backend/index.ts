/**
 * The backend folder's face to the rest of core-model: choosing and starting a TensorFlow.js backend (select.ts),
 * finding a WebGPU adapter (webgpu-probe.ts), and the primitives model code uses where backends differ
 * (primitives.ts). Everything else here is a workaround for one backend, installed by select.ts: wasm's missing and
 * slow kernels (wasm-kernels.ts, on the internals named in wasm-internals.ts), its fused elementwise kernels
 * (wasm-fused.ts, compiled by wasm-simd.ts from wasm-expr.ts's expressions), its threaded build under Node
 * (wasm-threads.ts), its matMuls on a native GEMM (native-matmul.ts), webgpu's fused kernels (webgpu-kernels.ts) and
 * its patched per-kernel path (webgpu-internals.ts). docs/runtime.md says why each exists.
 */
export {
  BACKEND_CHOICES,
  BackendUnavailableError,
  checkBackendEnv,
  initBackend,
  registerGradients,
  wasmDir,
  WEBGPU_FLAGS,
  type BackendChoice,
  type BackendInfo,
} from './select';
export {
  classifyAdapter,
  probeWebgpu,
  webgpuAdapterInChild,
  type AdapterClass,
  type AdapterLike,
} from './webgpu-probe';
export { addMany, customOp, flagFreeMatMul, matMul, matMulT, readTensor, sumRows, writePosition } from './primitives';
export { SLICED_MATMUL_MIN_WORK, slicedMatMulCount } from './wasm-kernels';
export { NATIVE_MATMUL_MIN_WORK, nativeMatMulActive, nativeMatMulCount } from './native-matmul';
export { webgpuPatchStats, type WebgpuPatchStats } from './webgpu-internals';
export { fusedWasm, setWasmFused } from './wasm-fused';
