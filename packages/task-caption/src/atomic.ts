// Atomic file writes for the files this package produces (datasets, vocabularies): a crash never leaves a
// half-written file under its final name, so "the file exists" can stand for "the file is complete".
import { renameSync, writeFileSync } from 'node:fs';
import * as E from 'fp-ts/Either';

/** Writes to `<file>.tmp-<pid>` and renames it into place; an I/O failure is one line naming the file. */
export function writeAtomic(file: string, data: string | Uint8Array): E.Either<string, string> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
    return E.right(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return E.left(`${file}: cannot write file${code ? ` (${code})` : ''}`);
  }
}
