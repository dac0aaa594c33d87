// The task-caption commands' fast checks: bad inputs as one UsageError line, before any training. The commands run
// end to end (demo, tune, eval and the vocabulary check of --from) in commands.e2e.ts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UsageError } from '@reward-tune/core-model';
import { pretrainCommand, tuneCommand } from './commands';
import { captionFile, writeCaptionDataset } from './dataset';

const readJsonFile = (file: string): any => JSON.parse(readFileSync(file, 'utf8'));

/** The command fails with a UsageError (exit code 2 through runCli) whose message is `message`. */
async function expectUsageError(run: Promise<number>, message: string | RegExp): Promise<void> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UsageError);
  if (typeof message === 'string') expect((err as Error).message).toBe(message);
  else expect((err as Error).message).toMatch(message);
}

describe('task-caption commands (mu preset)', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'cap-cmd-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  describe('bad inputs are one clear UsageError (exit code 2)', () => {
    const make = (): string => {
      const dir = mkdtempSync(path.join(tmpdir(), 'cap-bad-'));
      writeCaptionDataset(dir, { seed: 1, trainImages: 3, valImages: 2, size: 32, maxObjects: 2 });
      return dir;
    };
    const pretrain = (dir: string) =>
      pretrainCommand(['--preset', 'mu', '--data', dir, '--out', out, '--backend', 'cpu']);
    const edit = (file: string, f: (j: any) => void) => {
      const j = readJsonFile(file);
      f(j);
      writeFileSync(file, JSON.stringify(j));
    };

    it('a caption file without annotations', async () => {
      const dir = make();
      const file = captionFile(dir, 'train');
      edit(file, (j) => delete j.annotations);
      await expectUsageError(pretrain(dir), new RegExp(`^${file}: annotations: .*expected array`));
    });

    it('an annotation whose image id has no image', async () => {
      const dir = make();
      const file = captionFile(dir, 'val');
      edit(file, (j) => (j.annotations[3].image_id = 77));
      await expectUsageError(pretrain(dir), `${file}: annotations[3].image_id: no image with id 77`);
    });

    it('an image file that is missing', async () => {
      const dir = make();
      const png = path.join(dir, 'train', '000001.png');
      rmSync(png);
      await expectUsageError(
        pretrain(dir),
        `${captionFile(dir, 'train')}: images[1].file_name: file not found: ${png}`,
      );
    });

    it('tune without --from', async () => {
      await expectUsageError(
        tuneCommand(['--preset', 'mu', '--out', out]),
        'tune needs --from <MLE run directory or checkpoint>',
      );
    });
  });
});
