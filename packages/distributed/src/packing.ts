/**
 * The binary container every message between the learner and the actors travels in: typed arrays packed behind a
 * small JSON header, so that tokens, rewards and log-probabilities cross Redis as their own bytes (no base-10 text,
 * no rounding) and a message is checked in full before anything reads it.
 *
 *   bytes 0–3   magic `RTM1`
 *   bytes 4–7   header length H (u32, little-endian)
 *   H bytes     JSON `{ "kind": string, "meta": {...}, "arrays": [[name, dtype, length], ...] }`, space-padded so that
 *               8 + H is a multiple of 8
 *   then        each array's little-endian bytes in header order, each padded to a multiple of 8 bytes
 *
 * `meta` is plain JSON with two extensions (packJson): typed arrays and the numbers JSON cannot spell (NaN, ±∞, −0)
 * survive a round trip exactly, so a task's per-sample extras (e.g. detection's per-slot IoUs) come back bit for bit.
 */
import * as os from 'node:os';
import * as E from 'fp-ts/Either';

export type DType = 'i32' | 'f32' | 'f64' | 'u8';
export type Packed = Int32Array | Float32Array | Float64Array | Uint8Array;

export interface Message {
  readonly kind: string;
  readonly meta: unknown;
  readonly arrays: ReadonlyMap<string, Packed>;
}

const MAGIC = 'RTM1';
const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';
const BYTES: Record<DType, number> = { i32: 4, f32: 4, f64: 8, u8: 1 };
const pad8 = (n: number): number => (8 - (n % 8)) % 8;

function dtypeOf(a: Packed): DType {
  if (a instanceof Int32Array) return 'i32';
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Float64Array) return 'f64';
  return 'u8';
}

/** Little-endian bytes of `a` (a view on little-endian hosts). */
function bytesOf(a: Packed): Uint8Array {
  const view = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return LITTLE_ENDIAN_HOST || a instanceof Uint8Array ? view : swap(view, BYTES[dtypeOf(a)]);
}

function swap(b: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i += width) for (let k = 0; k < width; k++) out[i + k] = b[i + width - 1 - k];
  return out;
}

/** One message as bytes. */
export function pack(kind: string, meta: unknown, arrays: Readonly<Record<string, Packed | undefined>>): Buffer {
  const present = Object.entries(arrays).filter((e): e is [string, Packed] => e[1] !== undefined);
  let header = Buffer.from(
    packJson({ kind, meta, arrays: present.map(([name, a]) => [name, dtypeOf(a), a.length]) }),
    'utf8',
  );
  header = Buffer.concat([header, Buffer.alloc(pad8(8 + header.length), 0x20)]);
  const parts: Uint8Array[] = [Buffer.from(MAGIC, 'latin1'), Buffer.alloc(4), header];
  new DataView(parts[1].buffer, parts[1].byteOffset, 4).setUint32(0, header.length, true);
  for (const [, a] of present) {
    parts.push(bytesOf(a));
    if (pad8(a.byteLength) > 0) parts.push(Buffer.alloc(pad8(a.byteLength)));
  }
  return Buffer.concat(parts);
}

const isDType = (d: unknown): d is DType => d === 'i32' || d === 'f32' || d === 'f64' || d === 'u8';

/** A message back from bytes; a Left says what is wrong (truncated, bad header, arrays that do not fit). */
export function unpack(bytes: Uint8Array): E.Either<string, Message> {
  if (bytes.length < 8) return E.left(`message is ${bytes.length} bytes, too short for its header`);
  if (Buffer.from(bytes.buffer, bytes.byteOffset, 4).toString('latin1') !== MAGIC)
    return E.left('not a message (bad magic)');
  const h = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (8 + h > bytes.length)
    return E.left(`header of ${h} bytes runs past the end of the message (${bytes.length} bytes)`);
  let header: unknown;
  try {
    header = unpackJson(Buffer.from(bytes.buffer, bytes.byteOffset + 8, h).toString('utf8'));
  } catch (e) {
    return E.left(`header is not valid JSON (${(e as Error).message})`);
  }
  const hd = header as { kind?: unknown; meta?: unknown; arrays?: unknown };
  if (typeof hd !== 'object' || hd === null || typeof hd.kind !== 'string' || !Array.isArray(hd.arrays)) {
    return E.left('header lacks kind or arrays');
  }
  const arrays = new Map<string, Packed>();
  let at = 8 + h;
  for (const entry of hd.arrays as unknown[]) {
    if (!Array.isArray(entry) || entry.length !== 3)
      return E.left(`array entry ${JSON.stringify(entry)} is not [name, dtype, length]`);
    const [name, dtype, length] = entry as [unknown, unknown, unknown];
    if (typeof name !== 'string' || !isDType(dtype) || !(Number.isSafeInteger(length) && (length as number) >= 0)) {
      return E.left(`array entry ${JSON.stringify(entry)} is not [name, dtype, length]`);
    }
    const n = (length as number) * BYTES[dtype];
    if (at + n > bytes.length) return E.left(`array '${name}' runs past the end of the message (truncated?)`);
    // A copy: aligned for the typed array, and independent of the buffer it came in.
    let copy: Uint8Array = Uint8Array.prototype.slice.call(bytes, at, at + n);
    if (!LITTLE_ENDIAN_HOST && dtype !== 'u8') copy = swap(copy, BYTES[dtype]);
    arrays.set(name, typed(dtype, copy.buffer as ArrayBuffer, length as number));
    at += n + pad8(n);
  }
  if (at !== bytes.length) return E.left(`message has ${bytes.length - at} bytes after its last array`);
  return E.right({ kind: hd.kind, meta: hd.meta, arrays });
}

function typed(dtype: DType, buffer: ArrayBuffer, length: number): Packed {
  switch (dtype) {
    case 'i32':
      return new Int32Array(buffer, 0, length);
    case 'f32':
      return new Float32Array(buffer, 0, length);
    case 'f64':
      return new Float64Array(buffer, 0, length);
    case 'u8':
      return new Uint8Array(buffer, 0, length);
  }
}

const TYPED = { Int32Array, Float32Array, Float64Array, Uint8Array } as const;
type TypedName = keyof typeof TYPED;

/** JSON that keeps typed arrays (as `{ "$typed": name, "v": [...] }`) and NaN, ±∞ and −0 (as `{ "$num": "NaN" }`). */
export function packJson(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, _key: string, v: unknown) {
    if (typeof v === 'number') {
      if (Number.isNaN(v)) return { $num: 'NaN' };
      if (v === Infinity) return { $num: 'Infinity' };
      if (v === -Infinity) return { $num: '-Infinity' };
      if (Object.is(v, -0)) return { $num: '-0' };
      return v;
    }
    for (const name of Object.keys(TYPED) as TypedName[]) {
      if (v instanceof TYPED[name]) return { $typed: name, v: Array.from(v as ArrayLike<number>) };
    }
    return v;
  });
}

export function unpackJson(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const o = v as Record<string, unknown>;
    if (typeof o.$num === 'string' && Object.keys(o).length === 1) return Number(o.$num);
    if (typeof o.$typed === 'string' && o.$typed in TYPED && Array.isArray(o.v) && Object.keys(o).length === 2) {
      return TYPED[o.$typed as TypedName].from(o.v as number[]);
    }
    return v;
  });
}
