/**
 * The processes of the end-to-end tests (test-only; bundled by e2e-helpers.ts and started as children):
 *
 *   learner --redis URL --run NAME --dir DIR --staleness S [--steps K] [--fresh] [--clip C] [--lock-ms MS]
 *           [--outage-ms MS] [--checkpoint-every K] [--estimator E]
 *   actor   --redis URL --run NAME [--id ID] [--delay-ms MS] [--outage-ms MS]
 *   local   --dir DIR [--steps K] [--estimator E]       reinforce's tune, per job, in this process
 *
 * The learner and the local loop leave DIR/final.safetensors (the final parameters), DIR/metrics.jsonl, checkpoints
 * in DIR/checkpoints and (learner) DIR/throughput.json; the learner prints `step <n>` after each update, an actor
 * `start <job> ...` and `done <job>` per job. Redis that cannot be reached ends a process with its one line on stderr
 * and exit code 3; any other error with exit code 1.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { Rng } from '@reward-tune/core-model';
import {
  encodeWeights,
  fileCheckpointer,
  jsonlMetrics,
  randomBatches,
  tune,
  type Estimator,
} from '@reward-tune/reinforce';
import { runActor } from '../actor';
import { runLearner } from '../learner';
import { RedisUnavailable } from '../redis';
import { TOY_SEED, TOY_TOOL, toyActorSetup, toyOptimizer, toyPolicy, toyTable, toyTask, toyTuneConfig } from './toy';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    redis: { type: 'string' },
    run: { type: 'string' },
    dir: { type: 'string' },
    id: { type: 'string' },
    staleness: { type: 'string', default: '0' },
    steps: { type: 'string', default: '8' },
    clip: { type: 'string' },
    fresh: { type: 'boolean', default: false },
    'lock-ms': { type: 'string', default: '10000' },
    'outage-ms': { type: 'string', default: '30000' },
    'delay-ms': { type: 'string', default: '0' },
    'checkpoint-every': { type: 'string', default: '4' },
    estimator: { type: 'string', default: 'rloo' },
  },
});

const num = (k: keyof typeof values): number => Number(values[k]);
const config = () =>
  toyTuneConfig({
    steps: num('steps'),
    checkpointEvery: num('checkpoint-every'),
    estimator: values.estimator as Estimator,
  });

async function writeFinal(dir: string, policy: ReturnType<typeof toyPolicy>, steps: number): Promise<void> {
  writeFileSync(path.join(dir, 'final.safetensors'), await encodeWeights(policy.params, steps));
}

async function main(): Promise<void> {
  tf.enableProdMode(); // no banner about tfjs-node on stderr: a failure there is one line
  await tf.setBackend('cpu');
  const role = positionals[0];
  if (role === 'actor') {
    const r = await runActor({
      redisUrl: values.redis!,
      run: values.run!,
      tool: TOY_TOOL,
      id: values.id,
      outageMs: num('outage-ms'),
      jobDelayMs: num('delay-ms'),
      setup: () => toyActorSetup(),
      log: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`stopped ${r.stopped} after ${r.jobs} jobs\n`);
    return;
  }
  const dir = values.dir!;
  mkdirSync(dir, { recursive: true });
  const policy = toyPolicy();
  const io = {
    checkpointer: fileCheckpointer(path.join(dir, 'checkpoints'), { config: { tune: config() } }),
    metrics: jsonlMetrics(path.join(dir, 'metrics.jsonl')),
    progress: ({ step }: { step: number }) => process.stdout.write(`step ${step}\n`),
  };
  if (role === 'local') {
    const r = await tune({
      ...io,
      policy,
      optimizer: toyOptimizer(),
      task: toyTask,
      train: randomBatches(toyTable(), config().batchSize!),
      rng: Rng.fromSeed(TOY_SEED),
      config: config(),
    });
    await writeFinal(dir, policy, r.steps);
    return;
  }
  if (role !== 'learner') throw new Error(`unknown role '${role}'`);
  const r = await runLearner({
    ...io,
    redisUrl: values.redis!,
    run: values.run!,
    tool: TOY_TOOL,
    taskConfig: { tune: config() },
    table: toyTable(),
    staleness: num('staleness'),
    clip: values.clip !== undefined ? num('clip') : undefined,
    lockMs: num('lock-ms'),
    outageMs: num('outage-ms'),
    fresh: values.fresh,
    mirrorDir: path.join(dir, 'weights'),
    policy,
    optimizer: toyOptimizer(),
    task: toyTask,
    rng: Rng.fromSeed(TOY_SEED),
    config: config(),
    notice: (line) => process.stdout.write(`notice ${line}\n`),
  });
  writeFileSync(path.join(dir, 'throughput.json'), `${JSON.stringify(r.throughput, null, 2)}\n`);
  if (r.stopped !== 'done') throw new Error(`learner stopped: ${r.stopped}`);
  await writeFinal(dir, policy, r.steps);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(err instanceof RedisUnavailable ? 3 : 1);
  },
);
