import { either as E } from 'fp-ts';
import { decodeSafetensors, encodeSafetensors, type HostTensor } from './safetensors';

const f32 = (shape: number[], v: number[]): HostTensor => ({ dtype: 'F32', shape, data: Float32Array.from(v) });

function left<A>(e: E.Either<string, A>): string {
  if (E.isRight(e)) throw new Error('expected a Left');
  return e.left;
}

function right<A>(e: E.Either<string, A>): A {
  if (E.isLeft(e)) throw new Error(e.left);
  return e.right;
}

/** A file built by hand: `header` JSON as given (no padding), then `data`. */
function handFile(header: unknown, data: number[]): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeUInt32LE(json.length, 0);
  return Buffer.concat([len, json, Buffer.from(data)]);
}

describe('safetensors', () => {
  it('lays out an 8-byte LE header length, a space-padded JSON header, then raw little-endian data', () => {
    const bytes = encodeSafetensors(
      new Map<string, HostTensor>([
        ['a', f32([2], [1, -2])],
        ['b', { dtype: 'I32', shape: [], data: Int32Array.from([7]) }],
      ]),
      { note: 'hi' },
    );
    const n = Buffer.from(bytes).readUInt32LE(0);
    expect(Buffer.from(bytes).readUInt32LE(4)).toBe(0);
    expect((8 + n) % 8).toBe(0);
    expect(JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString())).toEqual({
      __metadata__: { note: 'hi' },
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'I32', shape: [], data_offsets: [8, 12] },
    });
    // 1.0f = 0x3f800000, −2.0f = 0xc0000000, 7 = 0x00000007, each stored least significant byte first.
    expect(Array.from(bytes.subarray(8 + n))).toEqual([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 7, 0, 0, 0]);
  });

  it('round-trips bit-exactly, NaN payloads, −0, subnormals and infinities included', () => {
    const bits = Uint32Array.from([0x7fc00001, 0x80000000, 0x00000001, 0x7f800000, 0xff800000, 0x3eaaaaab]);
    const t: HostTensor = { dtype: 'F32', shape: [2, 3], data: new Float32Array(bits.buffer) };
    const out = right(decodeSafetensors(encodeSafetensors(new Map([['w', t]]))));
    const got = out.tensors.get('w') as HostTensor;
    expect(got.shape).toEqual([2, 3]);
    expect(Array.from(new Uint32Array(got.data.buffer))).toEqual(Array.from(bits));
    expect(out.metadata).toEqual({});
  });

  it('reads files from other writers: unpadded header, tensors listed out of data order', () => {
    const file = handFile(
      {
        second: { dtype: 'I32', shape: [1], data_offsets: [4, 8] },
        first: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      },
      [0, 0, 0x80, 0x3f, 0xff, 0xff, 0xff, 0xff],
    );
    const out = right(decodeSafetensors(file));
    expect(Array.from(out.tensors.get('first')?.data ?? [])).toEqual([1]);
    expect(Array.from(out.tensors.get('second')?.data ?? [])).toEqual([-1]);
  });

  it('rejects corrupt files with a message naming the tensor or field', () => {
    const good = encodeSafetensors(new Map([['w', f32([4], [1, 2, 3, 4])]]));
    expect(left(decodeSafetensors(good.subarray(0, 5)))).toMatch(/too short/);
    expect(left(decodeSafetensors(good.subarray(0, good.length - 3)))).toBe(
      'tensor "w": data_offsets [0, 16] out of range: the data section has 13 bytes (truncated file?)',
    );
    const longHeader = Buffer.from(good);
    longHeader.writeUInt32LE(1 << 20, 0);
    expect(left(decodeSafetensors(longHeader))).toMatch(/header of 1048576 bytes runs past the end/);
    const garbled = Buffer.from(good);
    garbled[9] = 0x7b; // a stray '{' inside the JSON
    expect(left(decodeSafetensors(garbled))).toMatch(/^header is not valid JSON/);
    expect(
      left(decodeSafetensors(handFile({ w: { dtype: 'F16', shape: [1], data_offsets: [0, 2] } }, [0, 0]))),
    ).toMatch(/^tensor "w": unsupported dtype "F16"/);
    expect(
      left(decodeSafetensors(handFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, [0, 0, 0, 0]))),
    ).toBe('tensor "w": data_offsets [0, 4] hold 4 bytes, F32 [2] needs 8');
    const overlap = {
      a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      b: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
    };
    expect(left(decodeSafetensors(handFile(overlap, [0, 0, 0, 0])))).toMatch(/^tensor "b": .*overlapping/);
    expect(
      left(
        decodeSafetensors(handFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Array(8).fill(0))),
      ),
    ).toMatch(/^tensor "a": .*gap/);
    expect(
      left(
        decodeSafetensors(handFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Array(6).fill(0))),
      ),
    ).toBe('data section has 2 bytes after the last tensor');
    expect(left(decodeSafetensors(handFile({ __metadata__: { step: 3 } }, [])))).toBe(
      '__metadata__ "step" is not a string',
    );
  });
});
