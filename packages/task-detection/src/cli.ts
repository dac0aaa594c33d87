// The `task-detection` command-line tool: pretrain | tune | eval | demo | noise
// (also `nx run task-detection:<command>`).
import { runCli } from '@reward-tune/core-model';
import { evalCommand, noiseCommand, pretrainCommand, tuneCommand } from './commands';
import { demoCommand } from './demo';

void runCli(
  {
    tool: 'task-detection',
    commands: {
      pretrain: { summary: 'MLE pretraining (teacher forcing) on the training split', run: pretrainCommand },
      tune: { summary: "reward tuning (REINFORCE, the paper's reward) from an MLE run (--from)", run: tuneCommand },
      eval: { summary: 'greedy decoding and COCO mAP on the validation split (--from)', run: evalCommand },
      demo: { summary: 'the whole recipe on built-in synthetic data, MLE vs tuned', run: demoCommand },
      noise: {
        summary: 'gradient noise scale of tuning from a checkpoint (--from): is the tune batch big enough?',
        run: noiseCommand,
      },
    },
  },
  process.argv.slice(2),
).then((code) => {
  process.exitCode = code;
});
