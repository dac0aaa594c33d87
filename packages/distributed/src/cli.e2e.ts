// The task commands (task-detection's CLI, `mu` preset, wasm): `tune --actors` served by one `actor` process ends
// with the checkpoint of the single-process `tune --set tune.seedDerivation=per-job`, tensor for tensor, bit for bit
// (parameters, optimizer state); the run directory gets its throughput report and distributed settings.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { decodeSafetensors } from '@reward-tune/core-model';
import { Child, ROOT, runDir, testRedis, type OwnRedis } from './testing/e2e-helpers';

const CLI = path.join(ROOT, 'packages', 'task-detection', 'bin', 'task-detection.cjs');
let url: string;
let own: OwnRedis | undefined;
const children: Child[] = [];
const cli = (name: string, args: string[]) => {
  const c = new Child(name, args, CLI);
  children.push(c);
  return c;
};

beforeAll(async () => {
  ({ url, own } = await testRedis());
}, 60_000);

afterAll(async () => {
  for (const c of children) c.kill();
  await own?.kill();
});

function tensors(file: string): Map<string, Buffer> {
  const d = decodeSafetensors(readFileSync(file));
  if (E.isLeft(d)) throw new Error(d.left);
  return new Map(
    [...d.right.tensors].map(([k, t]) => [k, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)]),
  );
}

it('task-detection tune --actors with one actor gives the per-job local checkpoint, bit for bit', async () => {
  const out = runDir('cli');
  const common = ['--preset', 'mu', '--out', out, '--backend', 'wasm'];
  // The first command builds the CLI bundle when the sources are newer; the others start after it.
  const mle = cli('pretrain', ['pretrain', ...common, '--name', 'mle']);
  expect(await mle.exit(180_000)).toBe(0);
  const from = path.join(out, 'task-detection', 'mle');
  const tune = [
    ...common,
    '--from',
    from,
    '--set',
    'tune.steps=4',
    '--set',
    'tune.batchSize=4',
    '--set',
    'tune.microBatch=2',
  ];
  // A sampling process does not go with actors: one line, exit 2, before any run directory is made.
  const both = ['tune', ...tune, '--name', 'refused', '--actors', url, '--set', 'tune.sampler.kind=process'];
  const refused = cli('refused tune', both);
  expect(await refused.exit(60_000)).toBe(2);
  expect(refused.stderr).toMatch(/tune\.sampler\.kind=process .* does not go with --actors/);
  expect(existsSync(path.join(out, 'task-detection', 'refused'))).toBe(false);
  const local = cli('local tune', ['tune', ...tune, '--name', 'local', '--set', 'tune.seedDerivation=per-job']);
  expect(await local.exit(120_000)).toBe(0);

  const run = `cli-${process.pid}-${Date.now()}`;
  const actor = cli('actor', ['actor', '--redis', url, '--run', run, ...common]);
  const learner = cli('learner', ['tune', ...tune, '--name', 'dist', '--actors', url, '--run', run]);
  expect(await learner.exit(120_000)).toBe(0);
  expect(await actor.exit(30_000)).toBe(0);
  expect(learner.stderr).toContain(`task-detection actor --redis ${url} --run ${run}`);
  expect(learner.stderr).toMatch(/4 updates at [\d.]+\/s, learner idle [\d.]+ %, staleness 0/);
  expect(actor.stderr).toMatch(/stopped \(done\) after 8 jobs/);

  const ckpt = (name: string) => path.join(out, 'task-detection', name, 'checkpoints', 'step_000004.safetensors');
  const a = tensors(ckpt('local'));
  const b = tensors(ckpt('dist'));
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  expect([...a].filter(([k, t]) => !t.equals(b.get(k)!)).map(([k]) => k)).toEqual([]);
  const dir = path.join(out, 'task-detection', 'dist');
  expect(JSON.parse(readFileSync(path.join(dir, 'throughput.json'), 'utf8'))).toMatchObject({
    updates: 4,
    staleness: 0,
  });
  expect(JSON.parse(readFileSync(path.join(dir, 'distributed.json'), 'utf8'))).toMatchObject({ run, staleness: 0 });
  expect(existsSync(path.join(dir, 'report.html'))).toBe(true);
}, 480_000);
