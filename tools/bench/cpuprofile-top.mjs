#!/usr/bin/env node
// Summarises a V8 CPU profile (`node --cpu-prof …`) by where the time went: self time per package and per
// function, split into the phases of a `core-model bench` run (training steps, sampling, the rest), judged by the
// functions on each sample's stack. This is how the per-kernel costs of tfjs-backend-webgpu quoted in
// docs/runtime.md ("WebGPU in Node") were read off a profile of the bench.
//
// Usage: node tools/bench/cpuprofile-top.mjs <file.cpuprofile> [--top N] [--json]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '12' }, json: { type: 'boolean' } },
});
if (positionals.length !== 1) {
  console.error('usage: node tools/bench/cpuprofile-top.mjs <file.cpuprofile> [--top N] [--json]');
  process.exit(2);
}
const file = positionals[0];
const top = Number(values.top);
if (!Number.isInteger(top) || top < 1) {
  console.error(`--top: expected a positive integer, got '${values.top}'`);
  process.exit(2);
}
let profile;
try {
  profile = JSON.parse(readFileSync(file, 'utf8'));
} catch (e) {
  console.error(`${file}: ${e.message.split('\n')[0]}`);
  process.exit(2);
}
if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples) || !Array.isArray(profile.timeDeltas)) {
  console.error(`${file}: not a V8 CPU profile (no nodes, samples or timeDeltas)`);
  process.exit(2);
}

const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node: each sample's delta belongs to the node it landed in.
const selfUs = new Map();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + profile.timeDeltas[i]));

const PHASES = [
  ['sample', new Set(['sample', 'sampleFromEncoded', 'sampleSequences', 'decoderStep'])],
  ['train', new Set(['trainStep', 'variableGrads', 'apply'])],
];
const phaseOf = (id) => {
  for (let n = id; n !== undefined; n = parent.get(n)) {
    const name = nodes.get(n).callFrame.functionName;
    for (const [phase, names] of PHASES) if (names.has(name)) return phase;
  }
  return 'other';
};
const packageOf = (url) => {
  if (!url) return '(native)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  return url.startsWith('node:') ? 'node' : url.split('/').slice(-1)[0];
};

const result = {};
for (const [id, us] of selfUs) {
  const { functionName, url, lineNumber } = nodes.get(id).callFrame;
  const phase = phaseOf(id);
  const r = (result[phase] ??= { total_ms: 0, packages: {}, functions: {} });
  const fn = `${functionName || '(anonymous)'} ${packageOf(url)}:${lineNumber + 1}`;
  r.total_ms += us / 1000;
  r.packages[packageOf(url)] = (r.packages[packageOf(url)] ?? 0) + us / 1000;
  r.functions[fn] = (r.functions[fn] ?? 0) + us / 1000;
}
const round = (x) => Math.round(x * 10) / 10;
const topOf = (m) =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, ms]) => ({ name, ms: round(ms) }));
const summary = Object.fromEntries(
  Object.entries(result).map(([phase, r]) => [
    phase,
    { total_ms: round(r.total_ms), packages: topOf(r.packages), functions: topOf(r.functions) },
  ]),
);
if (values.json) {
  console.log(JSON.stringify(summary));
} else {
  for (const [phase, r] of Object.entries(summary)) {
    console.log(`${phase}: ${r.total_ms} ms of self time`);
    for (const f of r.functions) console.log(`  ${String(f.ms).padStart(9)} ms  ${f.name}`);
  }
}
