// The learner's flags come out of `tune`'s arguments in both spellings; everything else passes through in order.
import { importanceFlag, splitLearnerFlags, throughputLine } from './commands';

it('splits --actors, --staleness, --run, --clip, --importance and --lock-ms from the rest', () => {
  const { own, rest } = splitLearnerFlags([
    '--preset',
    'tiny',
    '--actors',
    'redis://h:1',
    '--staleness=1',
    '--set',
    'tune.steps=3',
    '--run',
    'r1',
    '--clip=1.5',
    '--importance',
    'token',
    '--json',
  ]);
  expect(own).toEqual({ actors: 'redis://h:1', staleness: '1', run: 'r1', clip: '1.5', importance: 'token' });
  expect(rest).toEqual(['--preset', 'tiny', '--set', 'tune.steps=3', '--json']);
  expect(() => splitLearnerFlags(['--actors'])).toThrow(/--actors: expects a value/);
});

it('--importance takes the values of tune.sampler.importance, sequence by default', () => {
  expect([importanceFlag(), importanceFlag('sequence'), importanceFlag('token')]).toEqual([
    'sequence',
    'sequence',
    'token',
  ]);
  expect(() => importanceFlag('row')).toThrow(/--importance row: expected sequence or token/);
});

it('the throughput report is one line', () => {
  const line = throughputLine({
    updates: 10,
    updatesPerSec: 0.5,
    idleShare: 0.25,
    rolloutsPerSec: 12,
    actors: { a: { samples: 100, jobs: 5, rolloutsPerSec: 12 } },
    staleness: 1,
    meanQueueDepth: 2,
  });
  expect(line).toBe(
    '10 updates at 0.500/s, learner idle 25.0 %, staleness 1, mean queue depth 2.0; rollouts/s 12.0 (a 12.0/s (5 jobs))',
  );
});
