// The `task-colorize` command-line tool: pretrain-oracle | pretrain | tune | eval | demo | noise | pool |
// oracle-check | sampler (also `nx run task-colorize:<command>`).
import { runCli } from '@reward-tune/core-model';
import { taskRunner } from '@reward-tune/reinforce';
import { oracleCheckCommand } from './oracle-check';
import { colorizeAdapter } from './setup';

const runner = taskRunner(colorizeAdapter);

void runCli(
  {
    tool: 'task-colorize',
    commands: {
      'pretrain-oracle': {
        summary: 'stage I: the oracle (a VQ-VAE over the colours, the grey image as context) on the training split',
        run: runner.pretrainOracleCommand,
      },
      'oracle-check': {
        summary: 'a stage I checkpoint with the true code vs a zero code on val (--set oracle.checkpoint=<run>)',
        run: oracleCheckCommand,
      },
      pretrain: {
        summary: 'stage II: MLE (teacher forcing) of the oracle code from the grey image (needs oracle.checkpoint)',
        run: runner.pretrainCommand,
      },
      tune: {
        summary: 'reward tuning (REINFORCE, colourfulness reward) from a stage II run or checkpoint (--from)',
        run: runner.tuneCommand,
      },
      eval: { summary: 'the evaluation suite on the test split (eval.split; --from)', run: runner.evalCommand },
      demo: {
        summary: 'MLE vs tuned on built-in scenes (shipped checkpoints, or --from-scratch)',
        run: runner.demoCommand,
      },
      noise: { summary: 'gradient noise scale of tuning from a checkpoint (--from)', run: runner.noiseCommand },
      pool: { summary: 'best-of-N reward from a checkpoint (--from)', run: runner.poolCommand },
      sampler: {
        summary: 'the sampling process of tune.sampler.kind=process (tune starts it; not run by hand)',
        run: runner.samplerCommand,
      },
    },
  },
  process.argv.slice(2),
).then((code) => {
  process.exitCode = code;
});
