// The `core-model` command-line tool: `core-model bench ...` (also `npx nx run core-model:bench -- ...`).
import { benchCommand } from './bench-cli';
import { runCli } from './command-line';

void runCli(
  {
    tool: 'core-model',
    commands: {
      bench: {
        summary:
          '--config <bench-mu|bench-tiny|bench-small|bench-base> --backend <auto|tensorflow|webgpu|wasm|cpu> [--json] [--profile]   training-step and sampling benchmark',
        run: benchCommand,
      },
    },
  },
  process.argv.slice(2),
).then((code) => {
  process.exitCode = code;
});
