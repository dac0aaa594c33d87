// Stage I's loop on the toy blocks with core-model's `mu` oracle: an interrupted and resumed run ends bit for bit
// where an uninterrupted one does (parameters, dictionary, counts, optimizer, losses), the records carry the codebook
// health, and a non-finite step updates nothing.
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW,
  initBackend,
  initOracle,
  oracleConfig,
  ORACLE_PRESETS,
  registerGradients,
  Rng,
  type OracleBatch,
} from '@reward-tune/core-model';
import { MemoryCheckpointer, type MetricsRecord } from './loop';
import {
  randomOracleBatches,
  sequentialOracleBatches,
  oracleBatchTensors,
  trainOracle,
  type OracleLoopResult,
} from './oracle-loop';
import { blockOracleTable, SEG_OUTPUT } from './testing/uvim-toys';

const CFG = oracleConfig({ ...ORACLE_PRESETS.mu, outputs: [SEG_OUTPUT], momentum: 0.9 });

beforeAll(async () => {
  await initBackend('wasm', { quiet: true });
  registerGradients();
});

interface Outcome {
  readonly result: OracleLoopResult;
  readonly params: Map<string, Float32Array>;
  readonly records: MetricsRecord[];
}

/** Six updates from seed 0, with a checkpointer; `stopAfter` aborts after that update, then a second call resumes. */
async function run(stopAfter?: number): Promise<Outcome> {
  const model = initOracle(CFG, 0);
  const train = randomOracleBatches(blockOracleTable(1, 32), 4);
  const heldOut = sequentialOracleBatches(blockOracleTable(2, 8), 4);
  const checkpointer = new MemoryCheckpointer();
  const records: MetricsRecord[] = [];
  const config = { steps: 6, evalEvery: 3, checkpointEvery: 4 };
  const opts = (signal?: AbortSignal, optimizer = new AdamW(model.params, { lr: 3e-3 })) => ({
    cfg: CFG,
    model,
    optimizer,
    train,
    heldOut,
    rng: Rng.fromSeed(7),
    config,
    checkpointer,
    signal,
    metrics: { log: (r: MetricsRecord) => records.push(r) },
    now: () => 0,
  });
  let result: OracleLoopResult;
  const first = opts();
  if (stopAfter === undefined) {
    result = await trainOracle(first);
  } else {
    const controller = new AbortController();
    const stopping = {
      ...first,
      signal: controller.signal,
      progress: (p: { step: number }) => p.step === stopAfter && controller.abort(),
    };
    const r1 = await trainOracle(stopping);
    expect(r1.stopped).toBe('interrupted');
    expect(r1.steps).toBe(stopAfter);
    // A fresh process: new parameters and optimizer, the same checkpointer.
    for (const [, v] of model.params) v.assign(tf.zerosLike(v));
    first.optimizer.dispose();
    result = await trainOracle({ ...opts(), model: { ...model, state: initOracle(CFG, 5).state } });
  }
  const params = new Map<string, Float32Array>();
  for (const [n, v] of model.params) params.set(n, (await v.data()) as Float32Array);
  tf.dispose([...model.params.values(), ...heldOut.flatMap(oracleBatchTensors)]);
  checkpointer.dispose();
  return { result, params, records };
}

describe('trainOracle', () => {
  it('a run interrupted after update 2 and resumed ends bit for bit where an uninterrupted one does', async () => {
    const whole = await run();
    const resumed = await run(2);
    expect(whole.result.stopped).toBe('done');
    expect(resumed.result.stopped).toBe('done');
    expect(resumed.result.steps).toBe(6);
    expect(resumed.result.state.dictionary).toEqual(whole.result.state.dictionary);
    expect(resumed.result.state.counts).toEqual(whole.result.state.counts);
    for (const [n, v] of whole.params) expect(resumed.params.get(n)).toEqual(v);
    // The resumed call ran updates 3..6, with the uninterrupted run's losses.
    expect(resumed.result.losses).toEqual(whole.result.losses.slice(2));
    // The dictionary did move (the test would pass trivially if it did not).
    expect(whole.result.state.counts).not.toEqual(new Float32Array(CFG.dictSize).fill(1));

    // Records: a train record per update with the loss terms, an eval record every 3 with the codebook's health.
    const trains = whole.records.filter((r) => r.kind === 'train');
    expect(trains.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(trains[0]).toMatchObject({ phase: 'oracle', rec: expect.any(Number), rec_seg: expect.any(Number) });
    expect(trains[0]).toHaveProperty('batchPerplexity');
    const evals = whole.records.filter((r): r is Extract<MetricsRecord, { kind: 'eval' }> => r.kind === 'eval');
    expect(evals.map((r) => r.step)).toEqual([3, 6]);
    const m = evals[1].metrics;
    expect(m.perplexity).toBeGreaterThan(1);
    expect(m.perplexity).toBeLessThanOrEqual(CFG.dictSize);
    expect(m.unusedFraction).toBeGreaterThanOrEqual(0);
    expect(m.unusedFraction).toBeLessThan(1);
    expect(m.maxShare).toBeGreaterThan(0);
    expect(m.maxShare).toBeLessThanOrEqual(1);
    expect(m.rec_seg).toBeCloseTo(evals[1].loss!, 5);
    expect(Object.keys(m).sort()).toEqual(
      ['emaMaxShare', 'emaPerplexity', 'maxShare', 'perplexity', 'rec_seg', 'splits', 'unusedFraction'].sort(),
    );
    expect(resumed.records.filter((r) => r.kind === 'event').map((r) => (r as { event: string }).event)).toEqual([
      'start',
      'interrupted',
      'resumed',
      'done',
    ]);
  });

  it('a non-finite loss updates neither the parameters nor the dictionary, and stops the loop', async () => {
    const model = initOracle(CFG, 1);
    const before = await model.params.get('encoder_head/kernel')!.data();
    const table = blockOracleTable(3, 8);
    const poisoned = (): OracleBatch => {
      const b = table.batch([0, 1]);
      const ctx = tf.mul(b.ctx!, NaN) as tf.Tensor4D;
      b.ctx!.dispose();
      return { ...b, ctx };
    };
    const records: MetricsRecord[] = [];
    const optimizer = new AdamW(model.params, { lr: 1e-2 });
    const r = await trainOracle({
      cfg: CFG,
      model,
      optimizer,
      train: poisoned,
      rng: Rng.fromSeed(0),
      config: { steps: 3 },
      metrics: { log: (x) => records.push(x) },
    });
    expect(r.stopped).toBe('non-finite');
    expect(r.steps).toBe(0);
    expect(r.state).toBe(model.state);
    expect(await model.params.get('encoder_head/kernel')!.data()).toEqual(before);
    expect(records.at(-1)).toMatchObject({ kind: 'event', event: 'non-finite' });
    optimizer.dispose();
    tf.dispose([...model.params.values()]);
  });
});
