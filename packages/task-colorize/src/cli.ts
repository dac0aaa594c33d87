// The `task-colorize` command-line tool: pretrain | tune | eval | demo (also `nx run task-colorize:<command>`).
import { notImplemented, runCli } from '@reward-tune/core-model';

void runCli(
  {
    tool: 'task-colorize',
    commands: {
      pretrain: {
        summary: 'MLE pretraining (teacher forcing) on the training split',
        run: notImplemented('task-colorize pretrain'),
      },
      tune: { summary: 'reward tuning (REINFORCE) from an MLE checkpoint', run: notImplemented('task-colorize tune') },
      eval: {
        summary: 'greedy decoding and the task metric on the validation split',
        run: notImplemented('task-colorize eval'),
      },
      demo: { summary: 'the whole recipe on built-in synthetic data', run: notImplemented('task-colorize demo') },
    },
  },
  process.argv.slice(2),
).then((code) => {
  process.exitCode = code;
});
