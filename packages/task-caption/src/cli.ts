// The `task-caption` command-line tool: pretrain | tune | eval | demo (also `nx run task-caption:<command>`).
import { notImplemented, runCli } from '@reward-tune/core-model';

void runCli(
  {
    tool: 'task-caption',
    commands: {
      pretrain: { summary: 'MLE pretraining (teacher forcing) on the training split', run: notImplemented('task-caption pretrain') },
      tune: { summary: 'reward tuning (REINFORCE) from an MLE checkpoint', run: notImplemented('task-caption tune') },
      eval: { summary: 'greedy decoding and the task metric on the validation split', run: notImplemented('task-caption eval') },
      demo: { summary: 'the whole recipe on built-in synthetic data', run: notImplemented('task-caption demo') },
    },
  },
  process.argv.slice(2),
).then((code) => {
  process.exitCode = code;
});
