// The commands on reinforce's task runner at the `mu` preset: stage I (pretrain-oracle) makes an oracle whose code
// the task's targets and decoding go through; stage II is refused without it or with another oracle; bad data is
// one line (a UsageError, exit 2) before any run directory exists.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, loadOracle, UsageError } from '@reward-tune/core-model';
import { taskRunner } from '@reward-tune/reinforce';
import { colorizeConfigSchema, colorizePresets } from './config';
import { greyTable, syntheticData } from './data';
import { colorizeAdapter } from './setup';
import { ColorizeTask } from './task';

const runner = taskRunner(colorizeAdapter);
let out: string;
let stdout: string[];

beforeAll(async () => {
  out = mkdtempSync(path.join(tmpdir(), 'colorize-cmd-'));
  await initBackend('wasm', { quiet: true });
});
afterAll(() => rmSync(out, { recursive: true, force: true }));
beforeEach(() => {
  stdout = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((s) => (stdout.push(String(s)), true));
  jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => jest.restoreAllMocks());

const common = (name: string) => ['--preset', 'mu', '--out', out, '--name', name, '--backend', 'wasm'];
const run = (name: string) => path.join(out, 'task-colorize', name);
const lastJson = () => JSON.parse(stdout.filter((l) => l.startsWith('{')).at(-1)!) as Record<string, unknown>;

describe('task-colorize commands (mu)', () => {
  it('pretrain-oracle writes a stage I checkpoint with the rgb output; the task encodes and decodes through it', async () => {
    expect(await runner.pretrainOracleCommand([...common('o1'), '--json'])).toBe(0);
    const ckpt = lastJson().checkpoint as string;
    const oracle = loadOracle(ckpt);
    if (oracle._tag === 'Left') throw new Error(oracle.left);
    expect(oracle.right.cfg.outputs).toEqual([{ name: 'rgb', channels: 3, loss: 'mse', weight: 1 }]);
    expect(oracle.right.cfg.imageSize).toBe(16);

    const cfg = colorizeConfigSchema.parse(colorizePresets.mu);
    const data = syntheticData(cfg);
    const table = greyTable(data.splits.val, 16, 3);
    const task = new ColorizeTask(() => oracle.right, { size: 16, reward: cfg.reward });
    const images = tf.tensor4d(table.pixels, [3, 16, 16, 3]);
    const targets = await task.encodeTargetsBatch(table.examples, images);
    expect(targets).toHaveLength(3 * 4);
    expect(Math.min(...targets)).toBeGreaterThanOrEqual(1); // code + 1
    expect(Math.max(...targets)).toBeLessThanOrEqual(16);
    const preds = await task.decodeBatch(targets, table.examples, images);
    images.dispose();
    expect(preds).toHaveLength(3);
    for (const p of preds) {
      expect(p).toHaveLength(16 * 16 * 3);
      expect(Math.min(...p)).toBeGreaterThanOrEqual(-1); // clipped, as UViM's prediction
      expect(Math.max(...p)).toBeLessThanOrEqual(1);
    }
    const r = task.reward(preds, table.examples[0]).rewards;
    expect(r).toHaveLength(3);
    expect(r.every(Number.isFinite)).toBe(true);
    const withFidelity = new ColorizeTask(() => oracle.right, {
      size: 16,
      reward: { ...cfg.reward, fidelityWeight: 1 },
    });
    const rf = withFidelity.reward(preds, table.examples[0]).rewards;
    expect(rf[0]).toBeGreaterThan(r[0] + 5); // + luma PSNR in dB
  });

  it('stage II pretrain → tune → eval over that oracle; eval writes the suite', async () => {
    const oracle = ['--set', `oracle.checkpoint=${run('o1')}`];
    expect(await runner.pretrainCommand([...common('s2'), ...oracle])).toBe(0);
    expect(await runner.tuneCommand([...common('t1'), ...oracle, '--from', run('s2'), '--json'])).toBe(0);
    const ev = lastJson();
    expect(ev).toMatchObject({ split: 'test', images: 8 });
    for (const k of ['colourfulness', 'grey_fraction', 'psnr', 'luma_psnr', 'frechet_colour_proxy'])
      expect(typeof ev[k]).toBe('number');
    expect((ev.ground_truth as Record<string, number>).colourfulness).toBeGreaterThan(20);
    expect(await runner.evalCommand(['--from', run('t1'), '--out', out, '--backend', 'wasm', ...oracle])).toBe(0);
    const evalDirs = readdirSync(path.join(run('t1'))).filter((f) => f === 'eval');
    expect(evalDirs).toEqual(['eval']);
    expect(existsSync(path.join(run('t1'), 'eval', 'summary.json'))).toBe(true);
    expect(existsSync(path.join(run('t1'), 'eval', 'pictures.html'))).toBe(true);
  }, 60_000);

  it('stage II needs an oracle and refuses another oracle than its checkpoint’s', async () => {
    await expect(runner.pretrainCommand(common('no-oracle'))).rejects.toThrow(UsageError);
    expect(existsSync(run('no-oracle'))).toBe(false);
    expect(await runner.pretrainOracleCommand([...common('o2'), '--seed', '3'])).toBe(0);
    await expect(
      runner.tuneCommand([...common('t2'), '--from', run('s2'), '--set', `oracle.checkpoint=${run('o2')}`]),
    ).rejects.toThrow(/trained over the oracle/);
    expect(existsSync(run('t2'))).toBe(false);
  });

  it('bad data is one line before any run directory: a non-image file, an empty folder, greyscale-only training', async () => {
    const data = path.join(out, 'bad-data');
    mkdirSync(path.join(data, 'train'), { recursive: true });
    mkdirSync(path.join(data, 'val'), { recursive: true });
    await expect(runner.pretrainOracleCommand([...common('bad1'), '--data', data])).rejects.toThrow(UsageError);
    writeFileSync(path.join(data, 'train', 'readme.txt'), 'not an image');
    await expect(runner.pretrainOracleCommand([...common('bad2'), '--data', data])).rejects.toThrow(/readme\.txt/);
    expect(existsSync(run('bad1')) || existsSync(run('bad2'))).toBe(false);
  });
});
