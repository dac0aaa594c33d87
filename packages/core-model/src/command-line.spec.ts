import { runCli, UsageError, type CliSpec } from './command-line';

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
      bad: { summary: 'rejects its input', run: () => { throw new UsageError('data.json: field "images" is missing'); } },
      crash: { summary: 'fails while working', run: () => { throw new Error('boom'); } },
      stop: { summary: 'stops on request', run: () => { throw Object.assign(new Error('interrupted; a checkpoint was saved'), { exitCode: 130 }); } },
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

  it('exits 2 on an unknown command and 1 on a crash', async () => {
    expect(await runCli(spec, ['nope'])).toBe(2);
    expect(await runCli(spec, ['crash'])).toBe(1);
    expect(await runCli(spec, [])).toBe(2);
  });
});
