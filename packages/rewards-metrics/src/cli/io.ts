/**
 * Input boundary of the `rewards-metrics` CLI: reading files and validating their shape, with every problem
 * reported as one line naming the file and the field. Functions return fp-ts `Either`s; a command turns a `Left`
 * into an `InputError` (exit code 2) with `orThrow`.
 *
 * rewards-metrics depends on no other package of ours (it is usable alone), so it keeps this small boundary of its
 * own rather than core-model's.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type * as E from 'fp-ts/Either';
import type { z } from 'zod';

// fp-ts' Eithers are plain `{ _tag, left | right }` objects: this module (loaded by every command, `cider` included)
// makes and reads them itself rather than load fp-ts at start-up (~6 ms); the commands that chain them load it.
const left = <A>(e: string): E.Either<string, A> => ({ _tag: 'Left', left: e });
const right = <A>(a: A): E.Either<string, A> => ({ _tag: 'Right', right: a });
const chain =
  <A, B>(f: (a: A) => E.Either<string, B>) =>
  (e: E.Either<string, A>): E.Either<string, B> =>
    e._tag === 'Left' ? e : f(e.right);

/** Bad input or usage: printed as one line, exit code 2. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

export const orThrow = <A>(e: E.Either<string, A>): A => {
  if (e._tag === 'Left') throw new InputError(e.left);
  return e.right;
};

export function readBytes(file: string): E.Either<string, Buffer> {
  try {
    return right(readFileSync(file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return left(`${file}: cannot read file${code ? ` (${code})` : ''}`);
  }
}

export function readJson(file: string): E.Either<string, unknown> {
  return chain((buf: Buffer) => {
    try {
      return right(JSON.parse(buf.toString('utf8')) as unknown);
    } catch (err) {
      return left(`${file}: malformed JSON (${(err as Error).message})`);
    }
  })(readBytes(file));
}

/** Formats a zod issue path the way a user reads it: `annotations[3].bbox`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)),
    '',
  );
}

export function validate<S extends z.ZodType>(schema: S, value: unknown, file: string): E.Either<string, z.infer<S>> {
  const r = schema.safeParse(value);
  if (r.success) return right(r.data);
  const issue = r.error.issues[0];
  const where = fieldPath(issue.path);
  return left(`${file}: ${where ? `field "${where}": ` : ''}${issue.message}`);
}

export const readJsonAs = <S extends z.ZodType>(schema: S, file: string): E.Either<string, z.infer<S>> =>
  chain((v: unknown) => validate(schema, v, file))(readJson(file));

/** A decoded 8-bit image, interleaved, 3 (RGB) or 4 (RGBA) channels. */
export interface DecodedImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 3 | 4;
  readonly data: Uint8Array;
}

/**
 * Decodes a PNG or JPEG file, chosen by its signature (not its name). The decoders are required here, not at the top,
 * because every command loads this module and only image commands need them.
 */
export function readImage(file: string): E.Either<string, DecodedImage> {
  return chain<Buffer, DecodedImage>((buf) => {
    try {
      if (buf.length >= 8 && buf.readUInt32BE(0) === 0x89504e47) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the decoders load only for their format
        const { PNG } = require('pngjs') as typeof import('pngjs');
        const png = PNG.sync.read(buf);
        return right({ width: png.width, height: png.height, channels: 4 as const, data: new Uint8Array(png.data) });
      }
      if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
        const jpeg = require('jpeg-js') as typeof import('jpeg-js');
        const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true });
        return right({ width: img.width, height: img.height, channels: 4 as const, data: img.data });
      }
      return left(`${file}: not a PNG or JPEG image`);
    } catch (err) {
      return left(`${file}: cannot decode image (${(err as Error).message})`);
    }
  })(readBytes(file));
}

/** Parsed flags: strings and booleans by name, plus positional arguments. */
export interface Flags {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

/** node:util parseArgs (strict), with its errors turned into InputErrors. */
export function parseFlags(
  args: readonly string[],
  options: NonNullable<ParseArgsConfig['options']>,
  allowPositionals = false,
): Flags {
  try {
    const r = parseArgs({ args: [...args], options, allowPositionals, strict: true });
    return { values: r.values as Flags['values'], positionals: r.positionals };
  } catch (err) {
    throw new InputError((err as Error).message);
  }
}

/** A required string flag. */
export function required(values: Flags['values'], name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new InputError(`missing required option --${name}`);
  return v;
}
