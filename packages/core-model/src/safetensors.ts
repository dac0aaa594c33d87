/**
 * The safetensors container (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of JSON
 * `{ "<tensor>": { "dtype", "shape", "data_offsets": [begin, end] }, "__metadata__": { string: string } }`, then the
 * raw little-endian tensor bytes, offsets relative to the end of the header. Offsets must tile the data section
 * exactly (no gaps, no overlap, nothing after the last tensor), as the reference reader requires; that is also what
 * catches a truncated file. The header is padded with spaces to a multiple of 8 bytes so the data stays aligned.
 * Only F32 and I32 are supported (all this project stores).
 */
import * as os from 'node:os';
import { either as E } from 'fp-ts';

export type SafeDType = 'F32' | 'I32';

export interface HostTensor {
  readonly dtype: SafeDType;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

export interface SafetensorsContents {
  readonly tensors: Map<string, HostTensor>;
  readonly metadata: Record<string, string>;
}

const BYTES: Record<SafeDType, number> = { F32: 4, I32: 4 };
/** The reference implementation's limit on header size; anything larger is a corrupt length field. */
const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const isDType = (d: unknown): d is SafeDType => d === 'F32' || d === 'I32';

/** Little-endian bytes of a typed array (a view when the host is little-endian, a swapped copy otherwise). */
export function tensorBytes(t: HostTensor): Uint8Array {
  const view = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return LITTLE_ENDIAN_HOST ? view : swap32(view);
}

/** The header block (length prefix + padded JSON) for tensors of these dtypes/shapes, in this order. */
export function encodeHeader(
  entries: ReadonlyArray<readonly [string, { readonly dtype: SafeDType; readonly shape: readonly number[] }]>,
  metadata: Readonly<Record<string, string>>,
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, { dtype, shape }] of entries) {
    if (name === '__metadata__') throw new Error('a tensor cannot be named __metadata__');
    const bytes = numel(shape) * BYTES[dtype];
    header[name] = { dtype, shape: [...shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad > 0) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = new Uint8Array(8 + json.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, json.length, true);
  dv.setUint32(4, 0, true);
  out.set(json, 8);
  return out;
}

/** The whole file as one buffer (tests and small files; checkpoints stream the same pieces). */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, HostTensor>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const parts = [encodeHeader([...tensors], metadata), ...[...tensors.values()].map(tensorBytes)];
  return Buffer.concat(parts);
}

/** Parses and validates a safetensors buffer; a Left names the offending tensor or field (not the file). */
export function decodeSafetensors(bytes: Uint8Array): E.Either<string, SafetensorsContents> {
  if (bytes.length < 8) return E.left(`file is ${bytes.length} bytes, too short for the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
  if (n > MAX_HEADER_BYTES) return E.left(`header length ${n} is implausible (corrupt file?)`);
  if (8 + n > bytes.length) return E.left(`header of ${n} bytes runs past the end of the file (${bytes.length} bytes)`);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, n).toString('utf8'));
  } catch (e) {
    return E.left(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    return E.left('header is not a JSON object');
  }
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const spans: Array<{ name: string; begin: number; end: number }> = [];
  const tensors = new Map<string, HostTensor>();
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        return E.left('__metadata__ is not an object');
      }
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') return E.left(`__metadata__ "${k}" is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const bad = (what: string): E.Either<string, never> => E.left(`tensor "${name}": ${what}`);
    if (typeof entry !== 'object' || entry === null) return bad('entry is not an object');
    const { dtype, shape, data_offsets: offs } = entry as Record<string, unknown>;
    if (!isDType(dtype)) return bad(`unsupported dtype ${JSON.stringify(dtype)} (F32 or I32 expected)`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      return bad(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      !offs.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offs[0] > offs[1]
    ) {
      return bad(`data_offsets ${JSON.stringify(offs)} is not [begin, end] with 0 ≤ begin ≤ end`);
    }
    const [begin, end] = offs as [number, number];
    const need = numel(shape) * BYTES[dtype];
    if (end - begin !== need) {
      return bad(
        `data_offsets [${begin}, ${end}] hold ${end - begin} bytes, ${dtype} [${shape.join(', ')}] needs ${need}`,
      );
    }
    if (end > dataLen) {
      return bad(
        `data_offsets [${begin}, ${end}] out of range: the data section has ${dataLen} bytes (truncated file?)`,
      );
    }
    spans.push({ name, begin, end });
    tensors.set(name, { dtype, shape, data: readTyped(bytes, dataStart + begin, need, dtype) });
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const s of spans) {
    if (s.begin !== cursor) {
      return E.left(
        `tensor "${s.name}": data_offsets start at ${s.begin}, ${s.begin < cursor ? 'overlapping the previous tensor' : `leaving a gap after byte ${cursor}`}`,
      );
    }
    cursor = s.end;
  }
  if (cursor !== dataLen) return E.left(`data section has ${dataLen - cursor} bytes after the last tensor`);
  return E.right({ tensors, metadata });
}

/** A fresh, aligned typed array from `len` little-endian bytes at `at`. */
function readTyped(bytes: Uint8Array, at: number, len: number, dtype: SafeDType): Float32Array | Int32Array {
  // Uint8Array's slice copies; Buffer's (bytes may be one) would return a view into a shared pool.
  let copy: Uint8Array = Uint8Array.prototype.slice.call(bytes, at, at + len);
  if (!LITTLE_ENDIAN_HOST) copy = swap32(copy);
  return dtype === 'F32' ? new Float32Array(copy.buffer, 0, len / 4) : new Int32Array(copy.buffer, 0, len / 4);
}

function swap32(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i += 4) {
    out[i] = b[i + 3];
    out[i + 1] = b[i + 2];
    out[i + 2] = b[i + 1];
    out[i + 3] = b[i];
  }
  return out;
}
