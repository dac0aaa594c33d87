/**
 * The SIMD module's functions that are not compiled expressions (wasm-simd.ts puts them beside its kernels): a copy
 * that swaps the middle axes of a 4-D tensor by whole rows (and the same adding a bias on the way), and tfjs's float32
 * exponential (musl's expf) written out.
 */
import { advance, F32, I32, op, roundDown, V128, vec, whileLess } from './wasm-encoding';

/**
 * The name of the module's axis-swapping copy: `(out, in, a, b, c, chunkBytes)` copies in, read as
 * [a, b, c, chunk] with chunks of chunkBytes (a multiple of 16), to out as [a, c, b, chunk] — tf.transpose with perm
 * [0, 2, 1, 3], a pure copy, so its bits — reading in in order, a chunk at a time in whole vectors.
 */
export const SWAP_MIDDLE_AXES = 'swapMiddleAxes';
export type SwapMiddleAxes = (out: number, inp: number, a: number, b: number, c: number, chunkBytes: number) => void;

/**
 * The same copy adding bias[c, chunk] to each chunk (`(out, in, a, b, c, chunkBytes, bias)`): a dense layer's bias
 * add, one IEEE float32 addition per value as tfjs's Add, folded into attention's head split.
 */
export const SWAP_MIDDLE_AXES_ADD = 'swapMiddleAxesAdd';
export type SwapMiddleAxesAdd = (
  out: number,
  inp: number,
  a: number,
  b: number,
  c: number,
  chunkBytes: number,
  bias: number,
) => void;

export function swapMiddleAxesBody(withBias = false): number[] {
  const [OUT_AT, IN_AT, A, B, C, CH] = [0, 1, 2, 3, 4, 5];
  const first = withBias ? 7 : 6; // the bias's offset is parameter 6
  const [IA, IB, IC, K, DST, STRIDE, PLANE, BIAS_AT] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => first + i);
  const zero = (local: number) => [...op.i32(0), ...op.set(local)];
  const code = [
    ...op.get(B),
    ...op.get(CH),
    ...op.i32Mul,
    ...op.set(STRIDE), // one step in c on the output: b·chunk
    ...op.get(C),
    ...op.get(STRIDE),
    ...op.i32Mul,
    ...op.set(PLANE), // one step in a: c·b·chunk
    ...whileLess(IA, A, [
      ...zero(IB),
      ...whileLess(IB, B, [
        ...op.get(OUT_AT),
        ...op.get(IB),
        ...op.get(CH),
        ...op.i32Mul,
        ...op.i32Add,
        ...op.set(DST),
        ...zero(IC),
        ...(withBias ? [...op.get(6), ...op.set(BIAS_AT)] : []),
        ...whileLess(IC, C, [
          ...zero(K),
          ...whileLess(K, CH, [
            ...op.get(DST),
            ...op.get(K),
            ...op.i32Add,
            ...op.get(IN_AT),
            ...op.get(K),
            ...op.i32Add,
            ...op.v128Load,
            ...(withBias ? [...op.get(BIAS_AT), ...op.get(K), ...op.i32Add, ...op.v128Load, ...op.f32x4Add] : []),
            ...op.v128Store,
            ...advance(K, op.i32(16)),
          ]),
          ...advance(IN_AT, op.get(CH)),
          ...advance(DST, op.get(STRIDE)),
          ...(withBias ? advance(BIAS_AT, op.get(CH)) : []),
          ...advance(IC, op.i32(1)),
        ]),
        ...advance(IB, op.i32(1)),
      ]),
      ...advance(OUT_AT, op.get(PLANE)),
      ...advance(IA, op.i32(1)),
    ]),
    ...op.end,
  ];
  return [...vec([[withBias ? 8 : 7, I32]]), ...code];
}

/**
 * The name of the module's sum over leading axes: `(out, in, rows, rowBytes)` writes out[j] = Σ_r in[r, j] for a
 * [rows, rowBytes / 4] float32 input, adding r in order from 0 as tfjs's wasm Sum does once it has moved the summed
 * axes last (its transpose is the cost this avoids), so the bits are its own. Columns go four vectors at a time (four
 * independent sums), then a vector, then one value at a time.
 */
export const SUM_LEADING = 'sumLeading';
export type SumLeading = (out: number, inp: number, rows: number, rowBytes: number) => void;

export function sumLeadingBody(): number[] {
  const [OUT_AT, IN_AT, ROWS, ROW_BYTES] = [0, 1, 2, 3];
  const [J, R, AT, N16, N64] = [4, 5, 6, 7, 8]; // i32: the column's byte, the row, where it is read, column limits
  const ACC = [9, 10, 11, 12]; // v128
  const S = 13; // f32
  // Columns j … j + width − 1 summed down the rows: `lanes` accumulators of 16 bytes each, or one f32.
  const columns = (step: number, limit: number, lanes: number) =>
    whileLess(J, limit, [
      ...(lanes > 0
        ? ACC.slice(0, lanes).flatMap((a) => [...op.f32x4Const(0), ...op.set(a)])
        : [...op.f32(0), ...op.set(S)]),
      ...op.get(IN_AT),
      ...op.get(J),
      ...op.i32Add,
      ...op.set(AT),
      ...op.i32(0),
      ...op.set(R),
      ...whileLess(R, ROWS, [
        ...(lanes > 0
          ? ACC.slice(0, lanes).flatMap((a, u) => [
              ...op.get(a),
              ...op.get(AT),
              ...op.v128LoadAt(16 * u),
              ...op.f32x4Add,
              ...op.set(a),
            ])
          : [...op.get(S), ...op.get(AT), ...op.f32Load, ...op.f32Add, ...op.set(S)]),
        ...advance(AT, op.get(ROW_BYTES)),
        ...advance(R, op.i32(1)),
      ]),
      ...(lanes > 0
        ? ACC.slice(0, lanes).flatMap((a, u) => [
            ...op.get(OUT_AT),
            ...op.get(J),
            ...op.i32Add,
            ...op.get(a),
            ...op.v128StoreAt(16 * u),
          ])
        : [...op.get(OUT_AT), ...op.get(J), ...op.i32Add, ...op.get(S), ...op.f32Store]),
      ...advance(J, op.i32(step)),
    ]);
  const code = [
    ...roundDown(ROW_BYTES, 64, N64),
    ...roundDown(ROW_BYTES, 16, N16),
    ...columns(64, N64, 4),
    ...columns(16, N16, 1),
    ...columns(4, ROW_BYTES, 0),
    ...op.end,
  ];
  return [
    ...vec([
      [5, I32],
      [4, V128],
      [1, F32],
    ]),
    ...code,
  ];
}

/**
 * The name of the module's float32 exponential: `(out, in, bytes, table)` writes exp(in[i]) to out[i] for `bytes / 4`
 * values, computed as musl's expf computes it (in double: x·32/ln 2 split into an integer k and a remainder r, 2^(k/32)
 * from EXP2F_TABLE and k's high bits, a cubic in r, one rounding to float32; ±∞, NaN and the overflow and underflow
 * ranges as it treats them). tfjs's wasm Exp is that function, one value at a time, so the bits are its own (checked on
 * a million values in wasm-kernels.exp.spec.ts). `table` is the byte offset of EXP2F_TABLE's 32 words in the memory.
 */
export const EXP_F32 = 'expF32';
export type ExpF32 = (out: number, inp: number, bytes: number, table: number) => void;

/** musl's __exp2f_data.tab: the bits of 2^(i/32) less i << 47, as [low, high] 32-bit halves. */
export const EXP2F_TABLE: ReadonlyArray<readonly [number, number]> = [
  0x3ff0000000000000n,
  0x3fefd9b0d3158574n,
  0x3fefb5586cf9890fn,
  0x3fef9301d0125b51n,
  0x3fef72b83c7d517bn,
  0x3fef54873168b9aan,
  0x3fef387a6e756238n,
  0x3fef1e9df51fdee1n,
  0x3fef06fe0a31b715n,
  0x3feef1a7373aa9cbn,
  0x3feedea64c123422n,
  0x3feece086061892dn,
  0x3feebfdad5362a27n,
  0x3feeb42b569d4f82n,
  0x3feeab07dd485429n,
  0x3feea47eb03a5585n,
  0x3feea09e667f3bcdn,
  0x3fee9f75e8ec5f74n,
  0x3feea11473eb0187n,
  0x3feea589994cce13n,
  0x3feeace5422aa0dbn,
  0x3feeb737b0cdc5e5n,
  0x3feec49182a3f090n,
  0x3feed503b23e255dn,
  0x3feee89f995ad3adn,
  0x3feeff76f2fb5e47n,
  0x3fef199bdd85529cn,
  0x3fef3720dcef9069n,
  0x3fef5818dcfba487n,
  0x3fef7c97337b9b5fn,
  0x3fefa4afa2a490dan,
  0x3fefd0765b6e4540n,
].map((w) => [Number(w & 0xffffffffn), Number(w >> 32n)] as const);

/** A float64 from its bits (the constants below are written as musl writes them, in hex). */
const f64Bits = (hi: number, lo: number): number => {
  const v = new DataView(new ArrayBuffer(8));
  v.setUint32(0, lo, true);
  v.setUint32(4, hi, true);
  return v.getFloat64(0, true);
};
const EXPF = {
  invLn2N: f64Bits(0x40471547, 0x652b82fe), // 0x1.71547652b82fep+0 · 32
  shift: f64Bits(0x43380000, 0), // 0x1.8p+52
  c0: f64Bits(0x3ebc6af8, 0x4b912394), // 0x1.c6af84b912394p-5 / 32³
  c1: f64Bits(0x3f2ebfce, 0x50fac4f3), // 0x1.ebfce50fac4f3p-3 / 32²
  c2: f64Bits(0x3f962e42, 0xff0c52d6), // 0x1.62e42ff0c52d6p-1 / 32
  overflow: 0x42b17217, // bits of 0x1.62e42ep6f: above it, +∞
  underflow: 0xc2cff1b4, // bits of -0x1.9fe368p6f: below it, 0
};

export function expF32Body(): number[] {
  const [OUT_AT, IN_AT, BYTES, TABLE] = [0, 1, 2, 3];
  const [I, BITS] = [4, 5]; // i32
  const X = 6; // f32
  const [Z, KD, R] = [7, 8, 9]; // f64
  const KI = 10; // i64
  const RES = 11; // f32
  const f64 = (v: number) => {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    return [0x44, ...b];
  };
  const f32FromBits = (bits: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(bits >>> 0);
    return [0x43, ...b];
  };
  const [f64Add, f64Sub, f64Mul] = [[0xa0], [0xa1], [0xa2]];
  const select = (ifTrue: number[], cond: number[]) => [...ifTrue, ...op.get(RES), ...cond, 0x1b, ...op.set(RES)];
  const code = [
    ...whileLess(I, BYTES, [
      ...op.get(IN_AT),
      ...op.get(I),
      ...op.i32Add,
      ...op.f32Load,
      ...op.set(X),
      // z = x·N/ln2; kd = z + shift, whose low bits are k; r = z − (kd − shift)
      ...op.get(X),
      0xbb, // f64.promote_f32
      ...f64(EXPF.invLn2N),
      ...f64Mul,
      ...op.set(Z),
      ...op.get(Z),
      ...f64(EXPF.shift),
      ...f64Add,
      ...op.set(KD),
      ...op.get(KD),
      0xbd, // i64.reinterpret_f64
      ...op.set(KI),
      ...op.get(Z),
      ...op.get(KD),
      ...f64(EXPF.shift),
      ...f64Sub,
      ...f64Sub,
      ...op.set(R),
      // y = (c0·r + c1)·r² + (c2·r + 1), times s = 2^(k/N) (table[k % N] + (k << 47)), rounded once to float32
      ...op.get(R),
      ...f64(EXPF.c0),
      ...f64Mul,
      ...f64(EXPF.c1),
      ...f64Add,
      ...op.get(R),
      ...op.get(R),
      ...f64Mul,
      ...f64Mul,
      ...f64(EXPF.c2),
      ...op.get(R),
      ...f64Mul,
      ...f64(1),
      ...f64Add,
      ...f64Add,
      ...op.get(TABLE),
      ...op.get(KI),
      0xa7, // i32.wrap_i64
      ...op.i32(31),
      ...op.i32And,
      ...op.i32(3),
      0x74, // i32.shl
      ...op.i32Add,
      0x29, // i64.load
      3,
      0,
      ...op.get(KI),
      0x42, // i64.const 47
      47,
      0x86, // i64.shl
      0x7c, // i64.add
      0xbf, // f64.reinterpret_i64
      ...f64Mul,
      0xb6, // f32.demote_f64
      ...op.set(RES),
      // musl's special cases, in reverse order of its tests (each later select overrides an earlier one)
      ...op.get(X),
      0xbc, // i32.reinterpret_f32
      ...op.set(BITS),
      ...select(f32FromBits(0), [...op.get(X), ...f32FromBits(EXPF.underflow), 0x5d]), // x < −103.97 → 0
      ...select(f32FromBits(0x7f800000), [...op.get(X), ...f32FromBits(EXPF.overflow), 0x5e]), // x > 88.72 → +∞
      ...select(
        [...op.get(X), ...op.get(X), 0x92],
        [...op.get(BITS), ...op.i32(20), ...op.i32ShrU, ...op.i32(0x7ff), ...op.i32And, ...op.i32(0x7f8), ...op.i32GeU],
      ), // NaN or ±∞ → x + x
      ...select(f32FromBits(0), [...op.get(BITS), ...op.i32(0xff800000 | 0), 0x46]), // −∞ → 0
      ...op.get(OUT_AT),
      ...op.get(I),
      ...op.i32Add,
      ...op.get(RES),
      ...op.f32Store,
      ...advance(I, op.i32(4)),
    ]),
    ...op.end,
  ];
  const locals = vec([
    [2, I32],
    [1, F32],
    [3, 0x7c], // f64
    [1, 0x7e], // i64
    [1, F32],
  ]);
  return [...locals, ...code];
}
