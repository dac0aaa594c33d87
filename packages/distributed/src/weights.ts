/**
 * The weight store: the learner's parameters after each update, as safetensors blobs in Redis under their version
 * (the number of updates behind them; reinforce's weight-versions.ts makes and loads the blobs), the last S+1
 * versions kept (step k samples with version k − S). Actors cache the version they last loaded and fetch another
 * only when a job asks for it. For a learner that is killed and resumed, the versions that jobs still in flight may
 * need also go to disk beside the checkpoints (reinforce's `WeightMirror`), so a resumed run can publish them again
 * should Redis have lost them.
 */
import type { Params } from '@reward-tune/core-model';
import { loadWeightVersion } from '@reward-tune/reinforce';
import { keys, type RunRedis } from './redis';

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
        const got = loadWeightVersion(this.params, blob);
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
