/**
 * What the end-to-end tests share (test-only): a Redis to run against, the toy processes (toy-process.ts, bundled
 * once with esbuild) started as children, and their output read line by line. A test kills only the processes it
 * started, by pid; every wait has a deadline.
 *
 * Redis: the server `.ci/run` started (REDIS_URL), or else one started here; a test that restarts Redis always
 * starts its own. Without `redis-server` the suite fails with one line naming the install command.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';

export const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const BUNDLE = path.join(ROOT, 'packages', 'distributed', 'dist', 'e2e', 'toy-process.cjs');
export const INSTALL_REDIS =
  'redis-server is not installed: install it with `apt-get install -y redis-server` (Debian/Ubuntu) and run the end-to-end suite again';

/** toy-process.ts as one file (workspace packages from their sources, npm packages left to node_modules). */
export async function buildToyProcess(): Promise<string> {
  await build({
    entryPoints: [path.join(__dirname, 'toy-process.ts')],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
    plugins: [
      {
        name: 'workspace-sources',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (args) => {
            const m = /^@reward-tune\/([a-z-]+)$/.exec(args.path);
            if (m) return { path: path.join(ROOT, 'packages', m[1], 'src', 'index.ts') };
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  return BUNDLE;
}

export const hasRedisServer = (): boolean => spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A redis-server of the test's own: append-only file on (fsync always), no eviction, in a temporary folder. */
export class OwnRedis {
  private proc: ChildProcess | undefined;
  readonly dir = mkdtempSync(path.join(tmpdir(), 'rt-redis-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    if (!hasRedisServer()) {
      const err = new Error(INSTALL_REDIS);
      err.stack = INSTALL_REDIS; // the one line, without a trace
      throw err;
    }
    const r = new OwnRedis(await freePort());
    await r.restart();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts the server (again, on the same port and folder: it reloads its append-only file). */
  async restart(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      'yes',
    ];
    args.push('--appendfsync', 'always', '--maxmemory-policy', 'noeviction', '--daemonize', 'no');
    this.proc = spawn('redis-server', args, { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (spawnSync('redis-cli', ['-p', String(this.port), 'ping'], { encoding: 'utf8' }).stdout.trim() !== 'PONG') {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer in 10 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGKILL (the server gets no chance to write anything more), and waits for the process to go. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  }
}

let shared: Promise<{ url: string; own?: OwnRedis }> | undefined;

/** The Redis the tests use: REDIS_URL, or a server of this test file's own. */
export function testRedis(): Promise<{ url: string; own?: OwnRedis }> {
  shared ??= process.env.REDIS_URL
    ? Promise.resolve({ url: process.env.REDIS_URL })
    : OwnRedis.start().then((own) => ({ url: own.url, own }));
  return shared;
}

/** A child process of the test with its output as lines. */
export class Child {
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<number>;
  private readonly proc: ChildProcess;
  private waiters: { re: RegExp; resolve: (line: string) => void }[] = [];

  /** `script`: the toy processes' bundle by default, or another Node script (e.g. a task's bin). */
  constructor(
    readonly name: string,
    args: readonly string[],
    script: string = BUNDLE,
  ) {
    this.proc = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
    let pending = '';
    this.proc.stdout!.on('data', (d: Buffer) => {
      pending += d.toString('utf8');
      const parts = pending.split('\n');
      pending = parts.pop()!;
      for (const line of parts) {
        this.lines.push(line);
        this.waiters = this.waiters.filter((w) => (w.re.test(line) ? (w.resolve(line), false) : true));
      }
    });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString('utf8')));
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : -1))),
    );
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** The first line (already printed or to come) matching `re`, within `ms`. */
  waitFor(re: RegExp, ms = 60_000): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name}: no line matching ${re} in ${ms / 1000} s; stderr: ${this.stderr}`)),
        ms,
      );
      this.waiters.push({ re, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      void this.exited.then((code) =>
        setTimeout(
          () => reject(new Error(`${this.name} exited (${code}) before a line matching ${re}; stderr: ${this.stderr}`)),
          50,
        ),
      );
    });
  }

  /** The exit code, within `ms`. */
  async exit(ms = 120_000): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.name} still running after ${ms / 1000} s; stderr: ${this.stderr}`)),
        ms,
      );
    });
    try {
      return await Promise.race([this.exited, limit]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills this child (by its pid) unless it has exited. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) process.kill(this.pid, signal);
  }
}

/** A fresh folder for one run's files. */
export const runDir = (label: string): string => mkdtempSync(path.join(tmpdir(), `rt-${label}-`));

export const finalParams = (dir: string): Buffer => readFileSync(path.join(dir, 'final.safetensors'));

/** The train records of a run's metrics.jsonl. */
export function trainRecords(dir: string): Record<string, unknown>[] {
  const file = path.join(dir, 'metrics.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r.kind === 'train');
}
