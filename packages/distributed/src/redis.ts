/**
 * The Redis side every process shares: the URL, the keys of a run, a client that tells a dead server from a
 * restarting one, and the BullMQ connection options.
 *
 * A run's keys, all under `rt:<run>:`:
 *
 *   meta              the run as the learner published it (JSON: config, staleness, seed, ...; RunMeta)
 *   state             `running` or `done`
 *   w:<version>       the weights after <version> updates (safetensors); the last S+1 versions are kept
 *   wv                sorted set of the stored versions
 *   r:<step>:<shard>  a rollout result (messages.ts), kept until a checkpoint covers its step
 *   completions       hash `<step>:<shard>` → how many times the job completed (one, unless delivered twice)
 *   completedBy       hash `<step>:<shard>` → the actor that completed it
 *
 * and BullMQ's queue `rollouts-<run>` (prefix `rt`), one job per (step, shard), job id `s<step>-p<shard>`.
 *
 * Outages: while the server is unreachable every call here waits and retries; a restart within the outage limit
 * (default 30 s) goes unnoticed (with the append-only file on, nothing is lost). Past the limit, or when the server
 * cannot be reached at all at start, the call throws RedisUnavailable with one line that says so.
 */
import { Redis } from 'ioredis';

/** Redis could not be reached: at start, or for longer than the outage limit. Its message is the one line to print. */
export class RedisUnavailable extends Error {
  override readonly name = 'RedisUnavailable';
  /** The exit code of a command that stops on it (core-model's runCli prints the message as one line). */
  readonly exitCode = 3;
}

export interface RedisTarget {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username?: string;
  readonly password?: string;
}

/** `redis://[user:password@]host[:port][/db]`. */
export function parseRedisUrl(url: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RangeError(`--redis ${url}: not a URL (expected redis://host:port)`);
  }
  if (u.protocol !== 'redis:') throw new RangeError(`--redis ${url}: expected a redis:// URL`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0)
    throw new RangeError(`--redis ${url}: database '${u.pathname.slice(1)}' is not a number`);
  return {
    url,
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
  };
}

/** What BullMQ needs to open its own connections to the same server (blocking calls wait out a restart). */
export function bullConnection(t: RedisTarget) {
  return {
    host: t.host,
    port: t.port,
    db: t.db,
    username: t.username,
    password: t.password,
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(100 * times, 1000),
  };
}

export const keys = (run: string) => ({
  meta: `rt:${run}:meta`,
  state: `rt:${run}:state`,
  weights: (version: number) => `rt:${run}:w:${version}`,
  /** Sorted set of the stored weight versions. */
  versions: `rt:${run}:wv`,
  result: (step: number, shard: number) => `rt:${run}:r:${step}:${shard}`,
  completions: `rt:${run}:completions`,
  completedBy: `rt:${run}:completedBy`,
  /** Every key of the run outside BullMQ's queue. */
  pattern: `rt:${run}:*`,
});

export const queueName = (run: string): string => `rollouts-${run}`;
export const QUEUE_PREFIX = 'rt';
export const jobId = (step: number, shard: number): string => `s${step}-p${shard}`;

export interface RedisOptions {
  /** How long a lost server may stay away before calls give up (ms; default 30 000). */
  readonly outageMs?: number;
  /** How long the first connection may take (ms; default 5 000). */
  readonly connectMs?: number;
}

const TRANSIENT =
  /LOADING|BUSY|TRYAGAIN|Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|max retries|MaxRetriesPerRequest|connect/i;

/**
 * A Redis client for the run's own keys that survives restarts: `call` retries a command while the server is away,
 * up to the outage limit.
 */
export class RunRedis {
  readonly client: Redis;
  private downSince: number | undefined = undefined;
  private lastError = '';
  private readonly outageMs: number;

  private constructor(
    readonly target: RedisTarget,
    opts: RedisOptions,
  ) {
    this.outageMs = opts.outageMs ?? 30_000;
    this.client = new Redis({
      host: target.host,
      port: target.port,
      db: target.db,
      username: target.username,
      password: target.password,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => Math.min(100 * times, 1000),
      // How long a disconnect waits for the socket to close before destroying it (ioredis: 2 s). A connection that
      // never opened never closes again, so a refused `connect` kept the process alive for the whole wait.
      disconnectTimeout: 250,
    });
    this.client.on('error', (err: Error) => {
      this.lastError = err.message;
    });
    this.client.on('ready', () => (this.downSince = undefined));
    for (const event of ['close', 'reconnecting', 'end']) this.client.on(event, () => (this.downSince ??= Date.now()));
  }

  /** Connects, or throws RedisUnavailable naming the URL and how to start a server. */
  static async connect(url: string, opts: RedisOptions = {}): Promise<RunRedis> {
    const r = new RunRedis(parseRedisUrl(url), opts);
    const limit = opts.connectMs ?? 5_000;
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(r.lastError || `no answer in ${limit / 1000} s`)), limit).unref(),
    );
    try {
      await Promise.race([r.client.connect(), timeout]);
      await Promise.race([r.client.ping(), timeout]);
    } catch (err) {
      r.client.disconnect();
      throw new RedisUnavailable(
        `cannot reach Redis at ${url} (${r.lastError || (err as Error).message}); start one with: ` +
          `redis-server --port ${r.target.port} --appendonly yes --maxmemory-policy noeviction`,
      );
    }
    return r;
  }

  /** Throws RedisUnavailable when the server has been away for longer than the outage limit. */
  check(): void {
    if (this.downSince !== undefined && Date.now() - this.downSince > this.outageMs) {
      throw new RedisUnavailable(
        `lost Redis at ${this.target.url} for over ${Math.round(this.outageMs / 1000)} s (${this.lastError || 'connection closed'})`,
      );
    }
  }

  /** `fn` against the client, retried while the server is away (a restart) up to the outage limit. */
  async call<T>(fn: (c: Redis) => Promise<T>): Promise<T> {
    for (;;) {
      try {
        const value = await fn(this.client);
        if (this.client.status === 'ready') this.downSince = undefined;
        return value;
      } catch (err) {
        const message = (err as Error).message ?? String(err);
        if (!TRANSIENT.test(message) && this.client.status === 'ready') throw err;
        this.lastError = message;
        this.downSince ??= Date.now();
        this.check();
        await sleep(200);
      }
    }
  }

  async close(): Promise<void> {
    try {
      await Promise.race([this.client.quit(), sleep(1000)]);
    } catch {
      // already gone
    }
    this.client.disconnect();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
