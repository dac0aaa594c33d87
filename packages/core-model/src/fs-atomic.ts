/**
 * Atomic file writes, the one place for them: the bytes go to a temp file beside the target, which is then renamed
 * over it, so a crash or a failed write never leaves a half-written file under the final name ("the file exists"
 * can stand for "the file is complete"). `writeFileAtomic` also fsyncs, for checkpoints that must survive a power
 * loss; `writeAtomic` is the cheap synchronous form for datasets, configs and reports.
 */
import * as fs from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';

/** Write to a temp file then rename, so a crash never leaves a half-written file under the final name. */
export function writeAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/** `writeAtomic` at an input/output boundary: an I/O failure is a Left, one line naming the file. */
export function writeAtomicE(file: string, data: string | Uint8Array): E.Either<string, string> {
  try {
    writeAtomic(file, data);
    return E.right(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return E.left(`${file}: cannot write file${code ? ` (${code})` : ''}`);
  }
}

/**
 * Writes `chunks` to a temp file beside `file`, fsyncs it and renames it over `file`. If anything fails (a chunk
 * source throwing included) the temp file is removed and `file` is left as it was.
 */
export async function writeFileAtomic(
  file: string,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<void> {
  const dir = path.dirname(file);
  await fs.promises.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${Date.now().toString(36)}`);
  const fh = await fs.promises.open(tmp, 'wx');
  try {
    for await (const c of chunks) {
      let off = 0;
      while (off < c.length) off += (await fh.write(c, off, c.length - off)).bytesWritten;
    }
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  // Make the rename itself durable; not every platform lets a directory be opened for fsync.
  const dh = await fs.promises.open(dir, 'r').catch(() => undefined);
  if (dh !== undefined)
    await dh
      .sync()
      .catch(() => undefined)
      .finally(() => dh.close());
}
