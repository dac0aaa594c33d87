// Faults on the toy run (S = 0, 8 updates × 3 jobs), each against reinforce's local loop: a SIGKILLed actor's job
// comes back when its lock lapses and is redone identically; a SIGKILLed learner resumes from its checkpoint and
// reuses the finished rollouts; a Redis killed and restarted mid-run (append-only file on) loses nothing; a Redis that
// is dead at start or stays dead mid-run ends learner and actor with one line, not a hang.
import { Redis } from 'ioredis';
import { keys } from './redis';
import {
  buildToyProcess,
  Child,
  finalParams,
  freePort,
  OwnRedis,
  runDir,
  testRedis,
  trainRecords,
} from './testing/e2e-helpers';

let url: string;
let shared: OwnRedis | undefined;
let reference: Buffer;
const children: Child[] = [];
const owned: OwnRedis[] = [];
const start = (name: string, args: string[]) => {
  const c = new Child(name, args);
  children.push(c);
  return c;
};
const runName = (label: string) => `${label}-${process.pid}-${Date.now()}`;

beforeAll(async () => {
  await buildToyProcess();
  ({ url, own: shared } = await testRedis());
  const local = runDir('local');
  expect(await start('local', ['local', '--dir', local]).exit(60_000)).toBe(0);
  reference = finalParams(local);
}, 90_000);

afterAll(async () => {
  for (const c of children) c.kill();
  for (const r of [...owned, ...(shared ? [shared] : [])]) await r.kill();
});

/** How many times each job of `run` completed, by job id. */
async function completions(redisUrl: string, run: string): Promise<Record<string, number>> {
  const r = new Redis(redisUrl);
  try {
    const h = await r.hgetall(keys(run).completions);
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  } finally {
    r.disconnect();
  }
}

const everyJobOnce = (c: Record<string, number>) => {
  expect(Object.keys(c).sort()).toEqual(
    Array.from({ length: 8 }, (_, s) => [0, 1, 2].map((p) => `s${s}-p${p}`))
      .flat()
      .sort(),
  );
  expect(Object.values(c).every((n) => n === 1)).toBe(true);
};

it('an actor SIGKILLed in the middle of a job: its job is redone by another, once, and the run ends as the local loop', async () => {
  const dir = runDir('kill-actor');
  const run = runName('kill-actor');
  const learner = start('learner', [
    'learner',
    '--redis',
    url,
    '--run',
    run,
    '--dir',
    dir,
    '--fresh',
    '--lock-ms',
    '3000',
  ]);
  // A slow actor: each job holds it 5 s after sampling, so it dies with a job in hand.
  const doomed = start('doomed actor', ['actor', '--redis', url, '--run', run, '--id', 'doomed', '--delay-ms', '5000']);
  const job = (await doomed.waitFor(/^start /, 30_000)).split(' ')[1];
  doomed.kill('SIGKILL');
  await doomed.exit(10_000);
  const survivor = start('survivor', ['actor', '--redis', url, '--run', run, '--id', 'survivor']);
  expect(await learner.exit(90_000)).toBe(0);
  expect(await survivor.exit(30_000)).toBe(0);

  expect(finalParams(dir).equals(reference)).toBe(true);
  expect(doomed.lines.some((l) => l.startsWith('done '))).toBe(false);
  expect(survivor.lines).toContain(`done ${job}`);
  everyJobOnce(await completions(url, run));
}, 180_000);

it('the learner SIGKILLed after update 5 resumes from its checkpoint (update 4), reusing the rollouts, and ends as the local loop', async () => {
  const dir = runDir('kill-learner');
  const run = runName('kill-learner');
  const args = ['learner', '--redis', url, '--run', run, '--dir', dir, '--checkpoint-every', '4'];
  const first = start('learner 1', [...args, '--fresh']);
  // 0.3 s per job, so that the kill lands while update 6 waits for its rollouts.
  const actor = start('actor', ['actor', '--redis', url, '--run', run, '--id', 'a', '--delay-ms', '300']);
  await first.waitFor(/^step 5$/, 60_000);
  first.kill('SIGKILL');
  await first.exit(10_000);
  const second = start('learner 2', args);
  expect(await second.exit(90_000)).toBe(0);
  expect(await actor.exit(30_000)).toBe(0);

  expect(finalParams(dir).equals(reference)).toBe(true);
  // The second learner began at update 5 (after the checkpoint at 4), and no job was done twice: the rollouts of
  // steps 4 and 5 (and any the actor finished after the kill) were reused.
  expect(second.lines.filter((l) => l.startsWith('step ')).map((l) => Number(l.split(' ')[1]))).toEqual([5, 6, 7, 8]);
  everyJobOnce(await completions(url, run));
  expect(trainRecords(dir).map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
}, 180_000);

it('Redis SIGKILLed and restarted mid-run (append-only file on): nothing lost, the run ends as the local loop', async () => {
  const redis = await OwnRedis.start();
  owned.push(redis);
  const dir = runDir('kill-redis');
  const run = runName('kill-redis');
  const learner = start('learner', ['learner', '--redis', redis.url, '--run', run, '--dir', dir, '--fresh']);
  const actor = start('actor', ['actor', '--redis', redis.url, '--run', run, '--id', 'a', '--delay-ms', '150']);
  await learner.waitFor(/^step 3$/, 60_000);
  await redis.kill();
  await new Promise((r) => setTimeout(r, 1500));
  await redis.restart();
  expect(await learner.exit(90_000)).toBe(0);
  expect(await actor.exit(30_000)).toBe(0);
  expect(finalParams(dir).equals(reference)).toBe(true);
  expect(trainRecords(dir).map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  await redis.kill();
}, 180_000);

it('a Redis dead at start, or dead mid-run past the outage limit, ends learner and actor with one line', async () => {
  const nobody = `redis://127.0.0.1:${await freePort()}`;
  const dir = runDir('dead-redis');
  const early = start('learner, no Redis', ['learner', '--redis', nobody, '--run', 'x', '--dir', dir, '--fresh']);
  const earlyActor = start('actor, no Redis', ['actor', '--redis', nobody, '--run', 'x']);
  for (const c of [early, earlyActor]) {
    expect(await c.exit(20_000)).toBe(3);
    expect(c.stderr.trim().split('\n')).toHaveLength(1);
    expect(c.stderr).toMatch(/^cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ .*redis-server --port/);
  }

  const redis = await OwnRedis.start();
  owned.push(redis);
  const run = runName('dead-redis');
  const learner = start('learner', [
    'learner',
    '--redis',
    redis.url,
    '--run',
    run,
    '--dir',
    runDir('dead-mid'),
    '--fresh',
    '--outage-ms',
    '3000',
  ]);
  const actor = start('actor', [
    'actor',
    '--redis',
    redis.url,
    '--run',
    run,
    '--delay-ms',
    '200',
    '--outage-ms',
    '3000',
  ]);
  await learner.waitFor(/^step 2$/, 60_000);
  const killed = Date.now();
  await redis.kill();
  for (const c of [learner, actor]) {
    expect(await c.exit(30_000)).toBe(3);
    expect(c.stderr.trim().split('\n')).toHaveLength(1);
    expect(c.stderr).toMatch(/^lost Redis at redis:\/\/127\.0\.0\.1:\d+ for over 3 s/);
  }
  expect(Date.now() - killed).toBeLessThan(20_000);
}, 180_000);
