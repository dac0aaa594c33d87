// The learner's side of the sampling process against a scripted child (no process): which weight version each job
// asks for, and a result sampled with another version refused.
import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, Rng, type Params } from '@reward-tune/core-model';
import { ProcessRollouts } from './sampler-process';
import type { TuneConfig } from './config-sections';

type Sent = { type: string; step?: number; part?: number; version?: number };

/** A child that answers `setup` with `ready` and each job with a result of the version `answer` gives. */
function scriptedChild(answer: (job: Sent) => number): { child: ChildProcess; sent: Sent[] } {
  const sent: Sent[] = [];
  const child = Object.assign(new EventEmitter(), {
    connected: true,
    send(m: Sent) {
      sent.push(m);
      const reply =
        m.type === 'setup'
          ? { type: 'ready' }
          : m.type === 'job'
            ? {
                type: 'result',
                step: m.step,
                part: m.part,
                version: answer(m),
                scored: { tokens: new Int32Array(), rewards: new Float64Array(), length: 0, aux: [] },
              }
            : undefined;
      if (reply !== undefined) setImmediate(() => child.emit('message', reply));
      return true;
    },
    disconnect() {
      this.connected = false;
      setImmediate(() => child.emit('exit', 0, null));
    },
    kill() {
      return true;
    },
  });
  return { child: child as unknown as ChildProcess, sent };
}

describe('ProcessRollouts', () => {
  let params: Params;
  beforeAll(async () => {
    await initBackend('cpu', { quiet: true });
    params = new Map([['w', tf.variable(tf.zeros([2]))]]) as unknown as Params;
  });

  const rollouts = (child: ChildProcess | ChildProcess[], staleness: number, microBatch?: number) =>
    new ProcessRollouts<number, unknown>({
      children: Array.isArray(child) ? child : [child],
      config: {},
      out: '/nowhere',
      table: { examples: [0, 1, 2, 3], size: 1, pixels: new Float32Array(12) },
      params,
      tune: { steps: 3, batchSize: 2, numSamples: 2, microBatch } as TuneConfig,
      rng: Rng.fromSeed(0),
      staleness,
    });

  it('asks for version max(0, k − S) and takes results of that version', async () => {
    const { child, sent } = scriptedChild((job) => job.version!);
    const r = rollouts(child, 1);
    const first = await r.take(0);
    expect(first.stats).toMatchObject({ version: 0, staleness: 0 });
    const second = await r.take(1);
    expect(second.stats).toMatchObject({ version: 0, staleness: 1 });
    expect(sent.filter((m) => m.type === 'job').map((m) => [m.step, m.version])).toEqual([
      [0, 0],
      [1, 0],
      [2, 1],
    ]);
    await r.close();
  });

  it('gives part p of n children to child p mod n, each with its own weights file', async () => {
    const a = scriptedChild((job) => job.version!);
    const b = scriptedChild((job) => job.version!);
    const r = rollouts([a.child, b.child], 1, 1); // 2 images per update in parts of 1: parts 0 and 1
    expect((await r.take(0)).shards).toHaveLength(2);
    const jobs = (sent: Sent[]) => sent.filter((m) => m.type === 'job').map((m) => [m.step, m.part]);
    expect(jobs(a.sent)).toEqual([
      [0, 0],
      [1, 0],
    ]);
    expect(jobs(b.sent)).toEqual([
      [0, 1],
      [1, 1],
    ]);
    const files = [...a.sent, ...b.sent].filter((m) => m.type === 'weights').map((m) => (m as { file?: string }).file);
    expect(files).toHaveLength(2);
    expect(new Set(files).size).toBe(2);
    await r.close();
  });

  it('refuses a result sampled with another version than its job asked for', async () => {
    const { child } = scriptedChild((job) => job.version! + 1);
    const r = rollouts(child, 0);
    await expect(r.take(0)).rejects.toThrow(/sampled 0:0 with version 1, not 0/);
    await r.close();
  });
});
