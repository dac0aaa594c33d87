// The whole recipe on the webgpu backend (mu preset): pretrain, tune (dynamic slot masks, gradient clipping over
// every parameter), evaluate. Plumbing, not numbers; a WebGPU device error fails the run (core-model's readTensor).
// Runs only where Dawn finds an adapter (on CPU machines: Mesa ≥ 24 lavapipe); Jest lists it as skipped otherwise.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { webgpuAdapterInChild } from '@reward-tune/core-model';
import { demoCommand } from './demo';

const adapter = webgpuAdapterInChild();
const itWithAdapter = adapter.ok ? it : it.skip;

itWithAdapter(
  `demo --preset mu --backend webgpu runs end to end (${adapter.what})`,
  async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'det-webgpu-'));
    let stdout = '';
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
    const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await demoCommand([
        '--preset',
        'mu',
        '--out',
        out,
        '--name',
        'g',
        '--backend',
        'webgpu',
        '--json',
        '--from-scratch',
      ]);
      expect(code).toBe(0);
      const result = JSON.parse(stdout.trim().split('\n').pop()!);
      for (const k of ['mle', 'tuned']) expect(result[k].stats).toHaveLength(12);
    } finally {
      write.mockRestore();
      err.mockRestore();
      rmSync(out, { recursive: true, force: true });
    }
  },
  120000,
);
