// The `task-panoptic` command-line tool: pretrain-oracle | pretrain | tune | eval | demo | noise | pool | sampler
// (also `nx run task-panoptic:<command>`).
import { runCli } from '@reward-tune/core-model';
import {
  demoCommand,
  evalCommand,
  noiseCommand,
  poolCommand,
  pretrainCommand,
  pretrainOracleCommand,
  samplerCommand,
  tuneCommand,
} from './commands';
import { oracleCheckCommand } from './oracle-check';

void runCli(
  {
    tool: 'task-panoptic',
    commands: {
      'pretrain-oracle': {
        summary: 'UViM stage I: the oracle (a VQ-VAE of the panoptic labels with the image as context)',
        run: pretrainOracleCommand,
      },
      'oracle-check': {
        summary:
          'PQ of a stage I oracle with the true code and with a zero code on val (--from): does the code matter?',
        run: oracleCheckCommand,
      },
      pretrain: {
        summary: 'UViM stage II: the code model by MLE over a frozen oracle (--set oracle.checkpoint=<run>)',
        run: pretrainCommand,
      },
      tune: { summary: 'reward tuning with per-image PQ (REINFORCE) from a stage II run (--from)', run: tuneCommand },
      eval: {
        summary: 'PQ/SQ/RQ of the oracle (true and zero code) and the model (greedy) on the test split (--from)',
        run: evalCommand,
      },
      demo: {
        summary: 'the whole recipe on built-in synthetic scenes: oracle, stage II, tuning, MLE vs tuned',
        run: demoCommand,
      },
      noise: { summary: 'gradient noise scale of tuning from a checkpoint (--from)', run: noiseCommand },
      pool: { summary: 'best-of-N from a checkpoint (--from)', run: poolCommand },
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
