import { runCli, UsageError, WASM_ABORT_HINT, type CliSpec } from './command-line';

// The engine's own class (the project's TypeScript libs do not declare the WebAssembly namespace).
const WASM_RUNTIME_ERROR = (globalThis as unknown as { WebAssembly: { RuntimeError: new (m: string) => Error } })
  .WebAssembly.RuntimeError;

describe('runCli', () => {
  let err: jest.SpyInstance;
  let out: jest.SpyInstance;
  beforeEach(() => {
    err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });
  afterEach(() => {
    err.mockRestore();
    out.mockRestore();
  });

  const spec: CliSpec = {
    tool: 'demo-tool',
    commands: {
      ok: { summary: 'succeeds', run: (args) => (args.length === 1 ? 0 : 1) },
      bad: {
        summary: 'rejects its input',
        run: () => {
          throw new UsageError('data.json: field "images" is missing');
        },
      },
      crash: {
        summary: 'fails while working',
        run: () => {
          throw new Error('boom');
        },
      },
      oom: {
        summary: 'exhausts the wasm memory',
        run: () => {
          throw new WASM_RUNTIME_ERROR('Aborted(). Build with -sASSERTIONS for more info.');
        },
      },
      stop: {
        summary: 'stops on request',
        run: () => {
          throw Object.assign(new Error('interrupted; a checkpoint was saved'), { exitCode: 130 });
        },
      },
    },
  };

  it('passes the remaining arguments to the command and returns its code', async () => {
    expect(await runCli(spec, ['ok', 'x'])).toBe(0);
    expect(await runCli(spec, ['ok'])).toBe(1);
  });

  it('turns a UsageError into one line and exit code 2', async () => {
    expect(await runCli(spec, ['bad'])).toBe(2);
    expect(err).toHaveBeenCalledWith('demo-tool bad: data.json: field "images" is missing\n');
  });

  it('uses the exit code an error carries, with one line', async () => {
    expect(await runCli(spec, ['stop'])).toBe(130);
    expect(err).toHaveBeenCalledWith('demo-tool stop: interrupted; a checkpoint was saved\n');
  });

  it('says what a wasm abort most often means, in one line, instead of its stack', async () => {
    expect(await runCli(spec, ['oom'])).toBe(1);
    expect(err).toHaveBeenCalledTimes(1);
    expect(err).toHaveBeenCalledWith(`demo-tool oom: ${WASM_ABORT_HINT}\n`);
    expect(WASM_ABORT_HINT).toMatch(/memory.*tune\.microBatch/);
  });

  it('exits 2 on an unknown command and 1 on a crash', async () => {
    expect(await runCli(spec, ['nope'])).toBe(2);
    expect(await runCli(spec, ['crash'])).toBe(1);
    expect(await runCli(spec, [])).toBe(2);
  });
});
