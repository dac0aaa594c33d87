// S = 0 on the toy run (8 updates, 3 parts of 2 inputs each): one actor and three actors give final parameters
// bit-identical to each other and to reinforce's local loop with the same per-job seed derivation.
import {
  buildToyProcess,
  Child,
  finalParams,
  runDir,
  testRedis,
  trainRecords,
  type OwnRedis,
} from './testing/e2e-helpers';

let url: string;
let own: OwnRedis | undefined;
const children: Child[] = [];
const start = (name: string, args: string[]) => {
  const c = new Child(name, args);
  children.push(c);
  return c;
};

beforeAll(async () => {
  await buildToyProcess();
  ({ url, own } = await testRedis());
}, 60_000);

afterAll(async () => {
  for (const c of children) c.kill();
  await own?.kill();
});

/** A learner and `actors` actors on a fresh run; the learner's folder once all have exited. */
async function distributed(
  label: string,
  actors: number,
): Promise<{ dir: string; run: string; actorLines: string[][] }> {
  const dir = runDir(label);
  const run = `${label}-${process.pid}-${Date.now()}`;
  // The actors first, each 0.2 s per job, so that all of them are serving before the jobs run out.
  const as = Array.from({ length: actors }, (_, i) =>
    start(`actor ${label}/${i}`, ['actor', '--redis', url, '--run', run, '--id', `a${i}`, '--delay-ms', '200']),
  );
  for (const a of as) await a.waitFor(/^waiting for the learner/, 60_000);
  const learner = start(`learner ${label}`, ['learner', '--redis', url, '--run', run, '--dir', dir, '--fresh']);
  expect(await learner.exit(90_000)).toBe(0);
  for (const a of as) expect(await a.exit(30_000)).toBe(0);
  return { dir, run, actorLines: as.map((a) => a.lines) };
}

it("S = 0: 1 actor and 3 actors give the local loop's parameters, bit for bit", async () => {
  const local = runDir('local');
  expect(await start('local', ['local', '--dir', local]).exit(60_000)).toBe(0);
  const one = await distributed('s0-one', 1);
  const three = await distributed('s0-three', 3);

  expect(finalParams(one.dir).equals(finalParams(local))).toBe(true);
  expect(finalParams(three.dir).equals(finalParams(local))).toBe(true);
  // The three actors shared the 24 jobs (each job once), and the learner logged every update's losses as the local
  // loop did.
  const done = three.actorLines.map((lines) => lines.filter((l) => l.startsWith('done ')).length);
  expect(done.reduce((a, b) => a + b, 0)).toBe(24);
  expect(done.filter((d) => d > 0).length).toBeGreaterThanOrEqual(2);
  const losses = (dir: string) => trainRecords(dir).map((r) => r.loss);
  expect(losses(three.dir)).toEqual(losses(local));
  expect(losses(one.dir)).toHaveLength(8);
  // An actor that comes up after the run has finished stops at once instead of waiting for it.
  const late = start('late actor', ['actor', '--redis', url, '--run', three.run, '--id', 'late']);
  expect(await late.exit(30_000)).toBe(0);
  expect(late.lines).toContain('stopped done after 0 jobs');
  // Each step says where its samples came from.
  expect(trainRecords(three.dir).map((r) => [r.version, r.staleness])).toEqual(
    Array.from({ length: 8 }, (_, k) => [k, 0]),
  );
}, 240_000);
