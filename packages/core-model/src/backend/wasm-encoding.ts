/**
 * The WebAssembly binary format, as far as the project's hand-written modules need it (wasm-simd.ts and
 * wasm-functions.ts): LEB128 integers, vectors and sections, the value types, the opcodes used (core spec and the SIMD
 * proposal), and the shapes of code used everywhere: a counted while-loop, an increment and a rounding down.
 */

export const u32 = (v: number): number[] => {
  const out: number[] = [];
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
};
export const s32 = (v: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
};
export const vec = (items: number[][]): number[] => [...u32(items.length), ...items.flat()];
export const section = (id: number, body: number[]): number[] => [id, ...u32(body.length), ...body];
export const str = (s: string): number[] => vec([...Buffer.from(s, 'utf8')].map((c) => [c]));

export const I32 = 0x7f,
  F32 = 0x7d,
  V128 = 0x7b;
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...u32(depth)],
  f32: (v: number) => {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    return [0x43, ...b];
  },
  brIf: (depth: number) => [0x0d, ...u32(depth)],
  get: (i: number) => [0x20, ...u32(i)],
  set: (i: number) => [0x21, ...u32(i)],
  tee: (i: number) => [0x22, ...u32(i)],
  select: [0x1b],
  i32: (v: number) => [0x41, ...s32(v)],
  i32Add: [0x6a],
  i32Mul: [0x6c],
  i32ShrU: [0x76],
  f32ConvertI32U: [0xb3],
  i32And: [0x71],
  i32GeU: [0x4f],
  i32LtS: [0x48],
  i32Shl: [0x74],
  i32ReinterpretF32: [0xbc],
  f32ReinterpretI32: [0xbe],
  f32Abs: [0x8b],
  f32Add: [0x92],
  f32Gt: [0x5e],
  f32Load: [0x2a, 2, 0], // align 2^2, offset 0
  f32Store: [0x38, 2, 0],
  v128Load: [0xfd, ...u32(0), 2, 0], // the align field is a hint: tensors need not be 16-byte aligned
  v128Store: [0xfd, ...u32(11), 2, 0],
  /** v128.load / v128.store `offset` bytes past the address on the stack. */
  v128LoadAt: (offset: number) => [0xfd, ...u32(0), 2, ...u32(offset)],
  v128StoreAt: (offset: number) => [0xfd, ...u32(11), 2, ...u32(offset)],
  f32x4Splat: [0xfd, ...u32(19)],
  f32x4Abs: [0xfd, ...u32(224)],
  f32x4Add: [0xfd, ...u32(228)],
  /** v128.const of four equal float32 lanes. */
  f32x4Const: (v: number) => {
    const b = Buffer.alloc(16);
    for (let i = 0; i < 4; i++) b.writeFloatLE(v, 4 * i);
    return [0xfd, ...u32(12), ...b];
  },
  f32x4Gt: [0xfd, ...u32(68)],
  i32x4Shl: [0xfd, ...u32(171)],
  i32x4ShrS: [0xfd, ...u32(172)],
  /** v128.bitselect(a, b, mask): a's bits where mask's are set, b's elsewhere. */
  v128Bitselect: [0xfd, ...u32(82)],
  f32x4ReplaceLane: (lane: number) => [0xfd, ...u32(32), lane],
  /** i8x16.shuffle picking four f32 lanes of (a, b): 0–3 from a, 4–7 from b. */
  f32x4Shuffle: (lanes: number[]) => [
    0xfd,
    ...u32(13),
    ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]),
  ],
};

/** local += by (an i32 local). */
export const advance = (local: number, by: number[]): number[] => [
  ...op.get(local),
  ...by,
  ...op.i32Add,
  ...op.set(local),
];

/** into = from rounded down to a multiple of `multiple` (a power of two): i32 locals. */
export const roundDown = (from: number, multiple: number, into: number): number[] => [
  ...op.get(from),
  ...op.i32(-multiple),
  ...op.i32And,
  ...op.set(into),
];

/** while (a < b) body — unsigned i32 locals. */
export const whileLess = (a: number, b: number, body: number[]): number[] => [
  ...op.block,
  ...op.loop,
  ...op.get(a),
  ...op.get(b),
  ...op.i32GeU,
  ...op.brIf(1),
  ...body,
  ...op.br(0),
  ...op.end,
  ...op.end,
];
