/**
 * The weight store: the learner's parameters after each update, as safetensors blobs in Redis under their version
 * (the number of updates behind them), the last S+1 versions kept (step k samples with version k − S). Actors cache
 * the version they last loaded and fetch another only when a job asks for it.
 *
 * For a learner that is killed and resumed, the versions that jobs still in flight may need (those before the
 * checkpoint's) also go to disk beside the checkpoints (`WeightMirror`), so a resumed run can publish them again
 * should Redis have lost them.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as E from 'fp-ts/Either';
import {
  decodeSafetensors,
  encodeSafetensors,
  writeAtomic,
  type HostTensor,
  type Params,
} from '@reward-tune/core-model';
import { keys, type RunRedis } from './redis';

/** The parameters' values as one safetensors blob, with the version in its metadata. */
export async function encodeWeights(params: Params, version: number): Promise<Buffer> {
  const tensors = new Map<string, HostTensor>();
  for (const [name, v] of params) {
    if (v.dtype !== 'float32')
      throw new Error(`parameter '${name}' is ${v.dtype}; the weight store holds float32 only`);
    tensors.set(name, { dtype: 'F32', shape: v.shape, data: (await v.data()) as Float32Array });
  }
  return Buffer.from(encodeSafetensors(tensors, { version: String(version) }));
}

/** Puts a blob's values into `params` (every parameter, same shapes), and returns its version. */
export function loadWeights(params: Params, blob: Uint8Array): number {
  const decoded = decodeSafetensors(blob);
  if (E.isLeft(decoded)) throw new Error(`weights: ${decoded.left}`);
  const { tensors, metadata } = decoded.right;
  if (tensors.size !== params.size)
    throw new Error(`weights hold ${tensors.size} tensors, the model has ${params.size} parameters`);
  for (const [name, v] of params) {
    const t = tensors.get(name);
    if (!t) throw new Error(`weights lack parameter '${name}'`);
    if (!tf.util.arraysEqual([...t.shape], v.shape))
      throw new Error(`weights: '${name}' is [${t.shape}], the model's is [${v.shape}]`);
    tf.tidy(() => v.assign(tf.tensor(t.data, [...t.shape], 'float32')));
  }
  return Number(metadata.version);
}

export class WeightStore {
  private readonly k: ReturnType<typeof keys>;

  /** `keep`: how many versions stay (S + 1). */
  constructor(
    private readonly redis: RunRedis,
    run: string,
    private readonly keep: number,
  ) {
    this.k = keys(run);
  }

  /** Stores version `version` and drops every version older than the last `keep`. */
  async publish(version: number, blob: Buffer): Promise<void> {
    await this.redis.call((c) =>
      c.multi().set(this.k.weights(version), blob).zadd(this.k.versions, version, String(version)).exec(),
    );
    const old = await this.redis.call((c) => c.zrangebyscore(this.k.versions, '-inf', version - this.keep));
    if (old.length > 0) {
      await this.redis.call((c) =>
        c
          .multi()
          .del(...old.map((v) => this.k.weights(Number(v))))
          .zrem(this.k.versions, ...old)
          .exec(),
      );
    }
  }

  /** The blob of `version`, or null when it is not (or no longer) stored. */
  fetch(version: number): Promise<Buffer | null> {
    return this.redis.call((c) => c.getBuffer(this.k.weights(version)));
  }

  /** Which of `versions` are stored. */
  async stored(versions: readonly number[]): Promise<boolean[]> {
    if (versions.length === 0) return [];
    return this.redis.call(async (c) => {
      const r = await c.multi(versions.map((v) => ['exists', this.k.weights(v)])).exec();
      return (r ?? []).map(([err, n]) => err === null && n === 1);
    });
  }
}

/**
 * The policy as an actor holds it: the version it last loaded, and a new one fetched from the store when a job asks
 * for it (waiting while it is not there yet: the learner publishes it again after a lost Redis).
 */
export class WeightCache {
  private version = -1;

  constructor(
    private readonly store: WeightStore,
    private readonly params: Params,
  ) {}

  get loaded(): number {
    return this.version;
  }

  async ensure(version: number, waitMs = 30_000): Promise<void> {
    if (version === this.version) return;
    const deadline = Date.now() + waitMs;
    for (;;) {
      const blob = await this.store.fetch(version);
      if (blob !== null) {
        const got = loadWeights(this.params, blob);
        if (got !== version) throw new Error(`weights stored as version ${version} say they are version ${got}`);
        this.version = version;
        return;
      }
      if (Date.now() > deadline)
        throw new Error(`weight version ${version} is not in Redis (learner gone, or the job is stale)`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Versions on disk beside the checkpoints (`<dir>/v<version>.safetensors`), for a resumed learner. */
export class WeightMirror {
  constructor(private readonly dir: string) {}

  /** Keeps exactly `blobs` (version → blob) on disk. */
  save(blobs: ReadonlyMap<number, Buffer>): void {
    mkdirSync(this.dir, { recursive: true });
    for (const [v, blob] of blobs) writeAtomic(this.file(v), blob);
    for (const v of this.versions()) if (!blobs.has(v)) rmSync(this.file(v), { force: true });
  }

  /** The versions on disk. */
  versions(): number[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .map((f) => /^v(\d+)\.safetensors$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  read(version: number): Buffer | undefined {
    return existsSync(this.file(version)) ? readFileSync(this.file(version)) : undefined;
  }

  private file(version: number): string {
    return path.join(this.dir, `v${version}.safetensors`);
  }
}
