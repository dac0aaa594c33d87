/**
 * The input boundary shared by core-model's readers (datasets, configs, run directories): reading files and
 * validating their shape, with every problem reported as ONE line `<file>: <field>: <what is wrong>`.
 * Readers return fp-ts `Either<string, A>`; a CLI turns a `Left` into a `UsageError` (exit code 2) with
 * `orUsageError`.
 */
import { readFileSync } from 'node:fs';
import * as E from 'fp-ts/Either';
import type { z } from 'zod';
import { UsageError } from './command-line';

export function readBytes(file: string): E.Either<string, Buffer> {
  try {
    return E.right(readFileSync(file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return E.left(`${file}: cannot read file${code ? ` (${code})` : ''}`);
  }
}

export function readJson(file: string): E.Either<string, unknown> {
  return E.chain((buf: Buffer) => {
    try {
      return E.right(JSON.parse(buf.toString('utf8')) as unknown);
    } catch (err) {
      return E.left(`${file}: malformed JSON (${(err as Error).message})`);
    }
  })(readBytes(file));
}

/** A field path the way a user reads it: `annotations[3].bbox`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)),
    '',
  );
}

/** One line for a zod failure: the first issue, with its field path (and an unknown key folded into the path). */
export function zodProblem(error: z.ZodError, where: string): string {
  const issue = error.issues[0];
  const path = [...issue.path];
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    path.push(issue.keys[0]);
    message = 'unknown key';
  }
  const field = fieldPath(path);
  return `${where}: ${field ? `${field}: ` : ''}${message}`;
}

export function validate<S extends z.ZodType>(schema: S, value: unknown, where: string): E.Either<string, z.output<S>> {
  const r = schema.safeParse(value);
  return r.success ? E.right(r.data) : E.left(zodProblem(r.error, where));
}

export const readJsonAs = <S extends z.ZodType>(schema: S, file: string): E.Either<string, z.output<S>> =>
  E.chain((v: unknown) => validate(schema, v, file))(readJson(file));

/** At a CLI: a `Left` becomes a `UsageError` (one line, exit code 2 through `runCli`). */
export function orUsageError<A>(e: E.Either<string, A>): A {
  if (E.isLeft(e)) throw new UsageError(e.left);
  return e.right;
}
