// `demo --preset quick`, the CI-sized run of the whole recipe on the wasm backend (~1 minute on 2 cores): its
// plumbing end to end, not its numbers (150 MLE steps are far too few to detect anything).
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { demoCommand } from './demo';

it('demo --preset quick: pretrains, tunes and compares both models on 128 validation images', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'det-quick-'));
  let stdout = '';
  const o = jest.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  const e = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  let code: number;
  try {
    code = await demoCommand([
      '--preset',
      'quick',
      '--out',
      out,
      '--name',
      'q',
      '--backend',
      'wasm',
      '--json',
      '--from-scratch',
    ]);
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  expect(code).toBe(0);
  const result = JSON.parse(stdout.trim().split('\n').pop()!);
  expect(result.preset).toBe('quick');
  for (const k of ['mle', 'tuned']) expect(result[k].stats).toHaveLength(12);
  const tuned = path.join(out, 'task-detection', 'q-tuned');
  expect(JSON.parse(readFileSync(path.join(tuned, 'eval', 'metrics.json'), 'utf8')).images).toBe(128);
  expect(readdirSync(path.join(tuned, 'checkpoints')).some((f) => f.endsWith('.safetensors'))).toBe(true);
  expect(existsSync(path.join(tuned, 'compare.html'))).toBe(true);
}, 600_000);
