/**
 * A `require` evaluated lazily, that bundlers cannot see through: optional and heavy packages (tfjs-node, webgpu,
 * the tfjs backends, onnxruntime-node) stay external to the bundles and are loaded only inside the functions that
 * need them, so a missing optional dependency is a fallback, not a crash at start.
 */
export const lazyRequire: (id: string) => unknown = (id) => module.require(id);
