/**
 * The shared shape of every package's command-line tool: `<tool> <command> [options]`.
 *
 * Exit codes: 0 success, 1 a failure while working, 2 bad usage or bad input (a `UsageError`, whose message is
 * one line naming the file or flag at fault; no stack trace is printed for it), or the `exitCode` an error carries
 * for an expected stop (e.g. 130 after Ctrl-C), also printed as one line.
 */
export class UsageError extends Error {
  override readonly name: string = 'UsageError';
}

export type CommandHandler = (args: readonly string[]) => Promise<number | void> | number | void;

export interface CliSpec {
  readonly tool: string;
  readonly commands: Readonly<Record<string, { readonly summary: string; readonly run: CommandHandler }>>;
}

export function usage(spec: CliSpec): string {
  const width = Math.max(...Object.keys(spec.commands).map((c) => c.length));
  const lines = Object.entries(spec.commands).map(([c, { summary }]) => `  ${c.padEnd(width)}  ${summary}`);
  return `usage: ${spec.tool} <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

/** Runs one command line and returns the process exit code (never throws). */
export async function runCli(spec: CliSpec, argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(usage(spec));
    return command === undefined ? 2 : 0;
  }
  const entry = spec.commands[command];
  if (entry === undefined) {
    process.stderr.write(`${spec.tool}: unknown command '${command}'\n${usage(spec)}`);
    return 2;
  }
  try {
    const code = await entry.run(rest);
    return typeof code === 'number' ? code : 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${spec.tool} ${command}: ${e.message}\n`);
      return 2;
    }
    // An expected way to stop (e.g. Ctrl-C after a checkpoint): one line and the error's own exit code.
    const exitCode = (e as { exitCode?: unknown } | null)?.exitCode;
    if (e instanceof Error && typeof exitCode === 'number') {
      process.stderr.write(`${spec.tool} ${command}: ${e.message}\n`);
      return exitCode;
    }
    if (isWasmAbort(e)) {
      process.stderr.write(`${spec.tool} ${command}: ${WASM_ABORT_HINT}\n`);
      return 1;
    }
    process.stderr.write(`${spec.tool} ${command}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

/**
 * The wasm backend's module stops with a bare `RuntimeError: Aborted()` (and its whole stack) when an allocation
 * fails: its memory is capped (4 GiB), and a tuning batch of a few hundred rows of a detection model reaches it.
 */
export const WASM_ABORT_HINT =
  'the wasm backend aborted, most often because its memory (at most 4 GiB) ran out: use smaller batches ' +
  '(tune.microBatch splits a tuning batch into chunks without changing the update; or lower tune.batchSize, ' +
  'tune.numSamples, mle.batchSize, eval.batchSize)';

function isWasmAbort(e: unknown): boolean {
  // WebAssembly.RuntimeError, by name: the project's TypeScript libs do not declare the WebAssembly namespace.
  return e instanceof Error && e.name === 'RuntimeError' && e.message.startsWith('Aborted(');
}

/** An error's message, first line only: for "why" clauses that must stay on one line. */
export function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

/** A command that exists but whose work has not landed yet: says so and fails (exit 1). */
export function notImplemented(what: string): CommandHandler {
  return () => {
    process.stderr.write(`${what}: not implemented yet\n`);
    return 1;
  };
}
