// The `task-detection` command-line tool: pretrain | tune | eval | demo | noise | pool | fit-score | actor | sampler
// (also `nx run task-detection:<command>`).
import { runCli } from '@reward-tune/core-model';
import { distributedCommands } from '@reward-tune/distributed';
import { detectionAdapter, evalCommand, noiseCommand, poolCommand, pretrainCommand, samplerCommand } from './commands';
import { demoCommand } from './demo';
import { fitScoreCommand } from './fit-score';

// `tune --actors <redis url>` and `actor`: tuning with its sampling spread over processes (@reward-tune/distributed).
const { tuneCommand, actorCommand } = distributedCommands(detectionAdapter);

void runCli(
  {
    tool: 'task-detection',
    commands: {
      pretrain: { summary: 'MLE pretraining (teacher forcing) on the training split', run: pretrainCommand },
      tune: { summary: "reward tuning (REINFORCE, the paper's reward) from an MLE run (--from)", run: tuneCommand },
      eval: { summary: 'greedy decoding and COCO mAP on the test split (eval.split; --from)', run: evalCommand },
      demo: { summary: 'the whole recipe on built-in synthetic data, MLE vs tuned', run: demoCommand },
      noise: {
        summary: 'gradient noise scale of tuning from a checkpoint (--from): is the tune batch big enough?',
        run: noiseCommand,
      },
      pool: {
        summary: 'best-of-N (--from): mean reward of a random, the most likely and the best of N samples, and greedy',
        run: poolCommand,
      },
      'fit-score': {
        summary: 'fit a box score (expected IoU) to the greedy boxes of the training images (--from); chosen on val',
        run: fitScoreCommand,
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
