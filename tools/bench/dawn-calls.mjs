#!/usr/bin/env node
// Times the Dawn calls that tfjs-backend-webgpu makes for every kernel, one kind at a time, on whichever adapter
// Dawn finds (a GPU, or Mesa lavapipe on a CPU machine): what core-model's src/backend/webgpu-internals.ts avoids
// (a mapped createBuffer per upload, a createBindGroup per kernel) against what it does instead (writeBuffer).
// Prints one JSON line: {"adapter", "calls", "<call>": {"wall_us", "cpu_us"}, …}, per call, over `calls` calls.
//
// Usage: node tools/bench/dawn-calls.mjs [--calls N]
import { parseArgs } from 'node:util';
import { create, globals } from 'webgpu';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '4000' } } });
const calls = Number(values.calls);
if (!Number.isInteger(calls) || calls < 1) {
  console.error(`--calls: expected a positive integer, got '${values.calls}'`);
  process.exit(2);
}
Object.assign(globalThis, globals);
const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });
if (adapter === null) {
  console.error('no WebGPU adapter (Vulkan driver missing or too old)');
  process.exit(2);
}
const device = await adapter.requestDevice();
const { STORAGE, COPY_SRC, COPY_DST, UNIFORM } = globals.GPUBufferUsage;
const code = `
@group(0) @binding(0) var<storage, read_write> o : array<f32>;
@group(0) @binding(1) var<storage, read> a : array<f32>;
@group(0) @binding(2) var<uniform> u : vec4<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g : vec3<u32>) {
  if (g.x < 4u) { o[g.x] = a[g.x] + u.x; }
}`;
const pipeline = device.createComputePipeline({
  layout: 'auto',
  compute: { module: device.createShaderModule({ code }), entryPoint: 'main' },
});
const out = device.createBuffer({ size: 16, usage: STORAGE | COPY_SRC | COPY_DST });
const input = device.createBuffer({ size: 16, usage: STORAGE | COPY_SRC | COPY_DST });
const uniform = device.createBuffer({ size: 16, usage: UNIFORM | COPY_DST });
const layout = pipeline.getBindGroupLayout(0);
const entries = [
  { binding: 0, resource: { buffer: out } },
  { binding: 1, resource: { buffer: input } },
  { binding: 2, resource: { buffer: uniform, offset: 0, size: 16 } },
];
const group = device.createBindGroup({ layout, entries });
const data = new Float32Array(4);

const result = { adapter: adapter.info.description || adapter.info.device, calls };
const time = (name, body) => {
  body(10); // warm-up
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  body(calls);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  result[name] = {
    wall_us: +((wall * 1000) / calls).toFixed(2),
    cpu_us: +((cpu.user + cpu.system) / calls).toFixed(2),
  };
};
time('createBuffer(16 B, mappedAtCreation) + fill + unmap', (n) => {
  for (let i = 0; i < n; i++) {
    const b = device.createBuffer({ size: 16, usage: STORAGE | COPY_SRC | COPY_DST, mappedAtCreation: true });
    new Float32Array(b.getMappedRange()).set(data);
    b.unmap();
    b.destroy();
  }
});
time('queue.writeBuffer(16 B)', (n) => {
  for (let i = 0; i < n; i++) device.queue.writeBuffer(uniform, 0, data.buffer, 0, 16);
});
time('getBindGroupLayout(0)', (n) => {
  for (let i = 0; i < n; i++) pipeline.getBindGroupLayout(0);
});
time('createBindGroup(3 buffers)', (n) => {
  for (let i = 0; i < n; i++) device.createBindGroup({ layout, entries });
});
let recorded = null;
time('setPipeline + setBindGroup + dispatchWorkgroups (+ finish)', (n) => {
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  for (let i = 0; i < n; i++) {
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(1);
  }
  pass.end();
  recorded = encoder.finish();
});
// The submission of the last recording (`calls` dispatches), per dispatch.
time('queue.submit, per dispatch', (n) => {
  if (n === calls) device.queue.submit([recorded]);
});
console.log(JSON.stringify(result));
// Dawn's node addon keeps the process alive (and onSubmittedWorkDone does not settle without event polling).
process.exit(0);
