// tools/bench/cpuprofile-top.mjs: self time per function, split into the bench's phases by the stack above it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const TOOL = path.resolve(__dirname, '..', '..', '..', 'tools', 'bench', 'cpuprofile-top.mjs');

describe('tools/bench/cpuprofile-top.mjs', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cpuprof-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const frame = (functionName: string, url = '') => ({
    functionName,
    url,
    lineNumber: 9,
    columnNumber: 0,
    scriptId: '0',
  });

  it('sums self time by phase and function', () => {
    const tfjs = 'file:///x/node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.node.js';
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(root)'), children: [2, 4] },
        { id: 2, callFrame: frame('trainStep', 'file:///x/cli.cjs'), children: [3] },
        { id: 3, callFrame: frame('WebGPUBackend.recordAndSubmit', tfjs), children: [] },
        { id: 4, callFrame: frame('sample', 'file:///x/cli.cjs'), children: [5] },
        { id: 5, callFrame: frame('WebGPUBackend.recordAndSubmit', tfjs), children: [] },
      ],
      samples: [3, 3, 5, 1, 2],
      timeDeltas: [1000, 2000, 500, 100, 250],
      startTime: 0,
      endTime: 3850,
    };
    const file = path.join(dir, 'p.cpuprofile');
    writeFileSync(file, JSON.stringify(profile));
    const r = spawnSync(process.execPath, [TOOL, file, '--json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.train.total_ms).toBe(3.3);
    expect(s.train.functions[0]).toEqual({
      name: 'WebGPUBackend.recordAndSubmit @tensorflow/tfjs-backend-webgpu:10',
      ms: 3,
    });
    expect(s.train.packages).toContainEqual({ name: 'cli.cjs', ms: 0.3 });
    expect(s.sample.total_ms).toBe(0.5);
    expect(s.other).toEqual({
      total_ms: 0.1,
      packages: [{ name: '(native)', ms: 0.1 }],
      functions: [{ name: '(root) (native):10', ms: 0.1 }],
    });
  });

  it('a missing or foreign file is one line and exit 2', () => {
    const missing = spawnSync(process.execPath, [TOOL, path.join(dir, 'none.cpuprofile')], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/none\.cpuprofile: ENOENT/);
    const foreign = path.join(dir, 'f.json');
    writeFileSync(foreign, '{"a":1}');
    const r = spawnSync(process.execPath, [TOOL, foreign], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`${foreign}: not a V8 CPU profile (no nodes, samples or timeDeltas)`);
  });
});
