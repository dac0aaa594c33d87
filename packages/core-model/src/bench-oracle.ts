/**
 * The stage I bench: times one training step of a UViM oracle (oracleTrainStep: forward and backward through the
 * encoder, quantiser and decoder in training mode, Adafactor with the `pretrain-oracle` defaults, then the
 * dictionary's EMA update), the frozen encoder over a batch (what stage II pays for its targets every step) and the
 * frozen decoder over a batch of codes (what tuning pays to decode its samples), on random labels and images.
 *
 *   core-model bench --config bench-oracle-tiny --backend wasm --json
 *   → {"config":"bench-oracle-tiny","backend":"wasm","backend_detail":…,"params":…,"batch":32,
 *      "train_step_ms":…,"train_step_cpu_ms":…,"encode_ms_per_image":…,"decode_ms_per_image":…}
 *
 * Dimension legend: B batch, H×W image, C_k channels of output key k, L code length.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, readTensor, type BackendChoice } from './backend';
import { oraclePreset, type OracleOutputInput, type OraclePreset } from './model/oracle/config';
import {
  disposeOracle,
  initOracle,
  oracleEncodeTensors,
  oracleTrainStep,
  type OracleBatch,
} from './model/oracle/oracle';
import { decodeStageTwo } from './model/oracle/stage-two';
import { createOptimizer, optimizerConfigSchema } from './optim';
import { Rng } from './rng';

export interface OracleBenchConfig {
  readonly preset: OraclePreset;
  readonly outputs: readonly OracleOutputInput[];
  readonly batch: number;
  /** Timed training steps after one warm-up step (the median is reported). */
  readonly steps: number;
}

/** The panoptic task's outputs at the CPU scale: 7 semantic classes (void + 3 stuff + 3 things), 16 instance ids. */
const PANOPTIC_OUTPUTS: readonly OracleOutputInput[] = [
  { name: 'semantics', channels: 7, loss: 'xent' },
  { name: 'instances', channels: 16, loss: 'xent' },
];

export const ORACLE_BENCH_CONFIGS: Readonly<Record<string, OracleBenchConfig>> = {
  // The smallest, for the command's own test.
  'bench-oracle-mu': { preset: 'mu', outputs: PANOPTIC_OUTPUTS, batch: 4, steps: 1 },
  // The CPU demo's oracle (64², patch 8, code 16 of 256, width 96, 2 + 3 layers) with panoptic's outputs, B = 32.
  'bench-oracle-tiny': { preset: 'tiny', outputs: PANOPTIC_OUTPUTS, batch: 32, steps: 3 },
};

export interface OracleBenchResult {
  readonly config: string;
  readonly backend: string;
  readonly backend_detail: string;
  readonly params: number;
  readonly batch: number;
  readonly train_step_ms: number;
  /** Process CPU time of the same step: on a shared machine, closer to what an idle one would take. */
  readonly train_step_cpu_ms: number;
  /** The frozen encoder (labels and image → code), per image of a batch of `batch`. */
  readonly encode_ms_per_image: number;
  /** The frozen decoder (code and image → outputs), per image of a batch of `batch`. */
  readonly decode_ms_per_image: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Random one-hot labels per output key and a random context image, [B, H, W, ·]. */
function randomBatch(cfg: ReturnType<typeof oraclePreset>, b: number, rng: Rng): OracleBatch {
  const s = cfg.imageSize;
  const labels: Record<string, tf.Tensor4D> = {};
  for (const o of cfg.outputs) {
    const ids = tf.randomUniform([b, s, s], 0, o.channels, 'int32', rng.seed());
    labels[o.name] = tf.tidy(() => tf.cast(tf.oneHot(ids as tf.Tensor3D, o.channels), 'float32')) as tf.Tensor4D;
    ids.dispose();
  }
  const ctx = tf.randomUniform([b, s, s, cfg.ctxChannels], -1, 1, 'float32', rng.seed()) as tf.Tensor4D;
  return { labels, ctx };
}

/** Runs one oracle bench (the config names one of ORACLE_BENCH_CONFIGS; bench-cli checks it). */
export async function runOracleBench(
  configName: string,
  backend: BackendChoice,
  opts: { readonly steps?: number } = {},
): Promise<OracleBenchResult> {
  const bench = ORACLE_BENCH_CONFIGS[configName];
  if (bench === undefined) throw new Error(`unknown oracle bench config '${configName}'`);
  const info = await initBackend(backend);
  const cfg = oraclePreset(bench.preset, { outputs: bench.outputs });
  const model = initOracle(cfg, 0);
  let state = model.state;
  const optimizer = createOptimizer(
    optimizerConfigSchema.parse({
      name: 'adafactor',
      lr: 1e-3,
      wd: 4e-5,
      gradClipNorm: 1,
      adafactor: { beta2Cap: 0.95 },
    }),
    model.params,
  );
  const rng = Rng.fromSeed(1);
  const b = bench.batch;
  const batch = randomBatch(cfg, b, rng);
  const times: number[] = [];
  const cpuTimes: number[] = [];
  const steps = opts.steps ?? bench.steps;
  for (let i = 0; i <= steps; i++) {
    const t0 = performance.now();
    const c0 = cpuMs();
    state = (await oracleTrainStep(model.params, state, cfg, optimizer, batch, { rng })).state;
    if (i > 0) {
      times.push(performance.now() - t0);
      cpuTimes.push(cpuMs() - c0);
    }
  }
  const frozen = { cfg, params: model.params, state };
  const encode = async (): Promise<Int32Array> => {
    const enc = oracleEncodeTensors(model.params, state, cfg, batch.labels, batch.ctx);
    try {
      return Int32Array.from(await readTensor(enc.codes), (c) => c + 1);
    } finally {
      tf.dispose([enc.codes, enc.preQuant, enc.quantised, enc.selected]);
    }
  };
  const decode = async (tokens: Int32Array): Promise<void> => {
    const out = decodeStageTwo(frozen, tokens, batch.ctx);
    try {
      for (const t of Object.values(out)) await readTensor(t);
    } finally {
      tf.dispose(Object.values(out));
    }
  };
  const tokens = await encode(); // warm-up of both (shader compilation on webgpu)
  await decode(tokens);
  const e0 = performance.now();
  await encode();
  const encodeMs = performance.now() - e0;
  const d0 = performance.now();
  await decode(tokens);
  const decodeMs = performance.now() - d0;
  const params = [...model.params.values()].reduce((n, v) => n + v.size, 0);
  tf.dispose([...Object.values(batch.labels), batch.ctx!]);
  optimizer.dispose();
  disposeOracle(model);
  const round1 = (x: number): number => Math.round(x * 10) / 10;
  return {
    config: configName,
    backend: info.name,
    backend_detail: info.detail,
    params,
    batch: b,
    train_step_ms: Math.round(median(times)),
    train_step_cpu_ms: Math.round(median(cpuTimes)),
    encode_ms_per_image: round1(encodeMs / b),
    decode_ms_per_image: round1(decodeMs / b),
  };
}
