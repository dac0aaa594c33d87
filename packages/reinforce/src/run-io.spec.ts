import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@reward-tune/core-model';
import { fileCheckpointer, interruptOnSigint, jsonlMetrics, SIGINT_NOTICE } from './run-io';
import { parseMetricsJsonl } from './report';
import type { TrainState } from './loop';

describe('run directory I/O for the loops', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  const state = (step: number): TrainState => ({
    phase: 'tune',
    step,
    params: new Map<string, tf.Tensor>([
      [
        'decoder/head/kernel',
        tf.tensor2d([
          [1.5, -2],
          [0.25, 3],
        ]),
      ],
      ['decoder/head/bias', tf.tensor1d([step, -0])],
    ]),
    optimizer: {
      step,
      tensors: new Map([
        [
          'decoder/head/kernel/m',
          tf.tensor2d([
            [0.1, 0.2],
            [0.3, 0.4],
          ]),
        ],
      ]),
    },
    rng: Rng.fromSeed(step).state(),
    loop: { best: 0.75, sinceBest: 2, last: NaN },
  });

  it('saves checkpoints and loads the latest back exactly, keeping the last K files', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rio-'));
    const ck = fileCheckpointer(dir, { config: { preset: 'mu' }, keep: 2 });
    expect(await ck.loadLatest()).toBeUndefined();
    for (const step of [1, 2, 3]) await ck.save(state(step));
    expect(readdirSync(dir).sort()).toEqual(['step_000002.safetensors', 'step_000003.safetensors']);
    const back = (await ck.loadLatest())!;
    const want = state(3);
    expect(back.phase).toBe('tune');
    expect(back.step).toBe(3);
    expect(back.rng).toEqual(want.rng);
    expect(back.loop).toEqual({ best: 0.75, sinceBest: 2, last: NaN });
    expect(back.optimizer.step).toBe(3);
    for (const [n, t] of want.params)
      expect(Array.from(back.params.get(n)!.dataSync())).toEqual(Array.from(t.dataSync()));
    expect(Array.from(back.optimizer.tensors.get('decoder/head/kernel/m')!.dataSync())).toEqual(
      Array.from(want.optimizer.tensors.get('decoder/head/kernel/m')!.dataSync()),
    );
  });

  it('writes metrics records as JSON lines the report reader accepts', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'rio-')), 'metrics.jsonl');
    const sink = jsonlMetrics(file);
    sink.log({ kind: 'train', phase: 'tune', step: 1, wallTime: 10, loss: 0.5, rewardMean: 1.25, rewardStd: NaN });
    sink.log({ kind: 'eval', phase: 'tune', step: 1, wallTime: 11, rewardMean: 1.5, metrics: { AP: 0.25 } });
    const parsed = parseMetricsJsonl(readFileSync(file, 'utf8'), file);
    expect(parsed._tag).toBe('Right');
    if (parsed._tag === 'Right') expect(parsed.right.map((r) => r.kind)).toEqual(['train', 'eval']);
  });

  it('turns the first SIGINT into an aborted signal and one notice, the second into exit code 130', () => {
    const before = process.listenerCount('SIGINT');
    const written: string[] = [];
    const exits: number[] = [];
    const sigint = interruptOnSigint({
      stream: { write: (t: string) => written.push(t) },
      exit: (code) => exits.push(code),
    });
    try {
      expect(process.listenerCount('SIGINT')).toBe(before + 1);
      expect(sigint.signal.aborted).toBe(false);
      process.emit('SIGINT', 'SIGINT');
      expect(sigint.signal.aborted).toBe(true);
      expect(written).toEqual([`${SIGINT_NOTICE}\n`]);
      expect(exits).toEqual([]);
      process.emit('SIGINT', 'SIGINT');
      expect(exits).toEqual([130]);
      expect(written).toHaveLength(1);
    } finally {
      sigint.dispose();
      sigint.dispose();
    }
    expect(process.listenerCount('SIGINT')).toBe(before);
  });

  it('starts the notice on a fresh line on a TTY, below the progress bar', () => {
    const written: string[] = [];
    const sigint = interruptOnSigint({
      stream: { write: (t: string) => written.push(t), isTTY: true },
      exit: () => undefined,
    });
    process.emit('SIGINT', 'SIGINT');
    sigint.dispose();
    expect(written).toEqual([`\n${SIGINT_NOTICE}\n`]);
  });
});
