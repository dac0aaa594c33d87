// The `task-caption` command-line tool: pretrain | tune | eval | demo | noise | pool | actor | sampler
// (also `nx run task-caption:<command>`).
import { runCli } from '@reward-tune/core-model';
import { distributedCommands } from '@reward-tune/distributed';
import { captionAdapter, evalCommand, noiseCommand, poolCommand, pretrainCommand, samplerCommand } from './commands';
import { demoCommand } from './demo';

// `tune --actors <redis url>` and `actor`: tuning with its sampling spread over processes (@reward-tune/distributed).
const { tuneCommand, actorCommand } = distributedCommands(captionAdapter);

void runCli(
  {
    tool: 'task-caption',
    commands: {
      pretrain: {
        summary: 'MLE pretraining (teacher forcing) on the training split; saves the vocabulary with the run',
        run: pretrainCommand,
      },
      tune: {
        summary:
          'reward tuning (REINFORCE, CIDEr-D reward) from an MLE run (--from); --set tune.estimator=greedy for self-critical',
        run: tuneCommand,
      },
      eval: {
        summary: 'greedy captions, CIDEr-D and BLEU-1..4 on the test split (eval.split; --from)',
        run: evalCommand,
      },
      demo: { summary: 'the whole recipe on built-in synthetic data, MLE vs tuned', run: demoCommand },
      noise: {
        summary: 'gradient noise scale of tuning from a checkpoint (--from): is the tune batch big enough?',
        run: noiseCommand,
      },
      pool: {
        summary: 'best-of-N (--from): mean reward of a random, the most likely and the best of N samples, and greedy',
        run: poolCommand,
      },
      actor: {
        summary: 'sample and score for a distributed tuning run (tune --actors): --redis, --run',
        run: actorCommand,
      },
      sampler: {
        summary: 'the sampling process of tune.sampler.kind=process (tune starts it; not run by hand)',
        run: samplerCommand,
      },
    },
  },
  process.argv.slice(2),
).then((code) => {
  process.exitCode = code;
});
