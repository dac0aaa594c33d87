/**
 * Elementwise kernels for the wasm backend as a small WebAssembly SIMD module of our own, written here as bytes.
 *
 * A chain of tfjs ops (a GELU is 7 kernels forward and 15 backward) passes over its tensor once per op, and at a
 * training step's sizes (a [2048, 512] activation is 4 MB) each pass is bound by memory traffic, not arithmetic. An
 * expression over the chain's inputs, compiled here to one loop that reads each input once and writes once, does the
 * same float32 operations in the same order four lanes at a time. wasm SIMD has no fused multiply-add and rounds each
 * operation as IEEE float32, like tfjs's own kernels, so the results are theirs bit for bit (wasm-fused.spec.ts):
 * training runs do not change by a digit. The module imports the backend's own `WebAssembly.Memory` and addresses
 * tensors by their byte offsets in it, with no copies.
 *
 * Each compiled function is `(out, rows, rowBytes, in0, in1, …)`, all i32 (byte offsets and sizes): row by row,
 * out[r, j] = expr(in0(r, j), in1(r, j), …) with each input read as its `InputKind` says (the output's layout, a
 * row repeated under every row, one value per row, or one value), whole vectors first, then the row's remaining
 * 0–3 elements one at a time. A kernel with `reduce: 'sum'` writes one value per row instead, out[r] = Σ_j expr(r, j),
 * summing j in order as tfjs's Sum does (so its bits too), and `reduce: 'mean'` that divided by the row's length, as
 * tfjs's Mean does; four rows go through the four lanes at once, the rows' remaining 0–3 one at a time. The module
 * also holds two functions that are not expressions: SWAP_MIDDLE_AXES, a transpose by whole rows, and EXP_F32,
 * tfjs's float32 exponential.
 */

/**
 * An expression over the inputs' elements: an input, a float32 constant, an operation on two expressions, or a
 * square root of one. Each is one IEEE float32 operation, correctly rounded, as tfjs's Add, Sub, Mul, RealDiv and
 * Sqrt are (its Rsqrt is 1 / sqrt(x), two roundings: `div(constant(1), sqrt(x))`).
 */
export type Expr =
  | { readonly in: number }
  | { readonly c: number }
  | { readonly op: SimdOp; readonly a: Expr; readonly b: Expr }
  | { readonly op: 'sqrt'; readonly a: Expr };
export type SimdOp = 'add' | 'sub' | 'mul' | 'div';
export const input = (i: number): Expr => ({ in: i });
/** A constant, rounded to float32 as tfjs rounds a JS number operand. */
export const constant = (v: number): Expr => ({ c: Math.fround(v) });
const binary =
  (o: SimdOp) =>
  (a: Expr, b: Expr): Expr => ({ op: o, a, b });
export const add = binary('add');
export const sub = binary('sub');
export const mul = binary('mul');
export const div = binary('div');
export const sqrt = (a: Expr): Expr => ({ op: 'sqrt', a });

/**
 * How an input is read for element j of row r (rows of `rowBytes / 4` elements): `full` at r·rowBytes + 4j (the
 * output's own layout), `row` at 4j (one row under every row: a bias [d]), `col` at 4r (one value per row: a
 * [rows, 1] mean), `scalar` at 0.
 */
export type InputKind = 'full' | 'row' | 'col' | 'scalar';

export interface SimdKernel {
  readonly name: string;
  readonly inputs: readonly InputKind[];
  readonly expr: Expr;
  /** 'sum' or 'mean': the row's sum or mean of expr, one value per row (the output is [rows]). */
  readonly reduce?: 'sum' | 'mean';
}

/** A `WebAssembly.Memory` (the project's TypeScript libs do not declare the WebAssembly namespace). */
export type WasmMemory = object;
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export type SimdFunction = (out: number, rows: number, rowBytes: number, ...inputs: number[]) => void;

// ---------------------------------------------------------------------------------------------------------------
// Encoding (the WebAssembly binary format, core spec 5 and the SIMD proposal's opcodes)

const u32 = (v: number): number[] => {
  const out: number[] = [];
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
};
const s32 = (v: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
};
const vec = (items: number[][]): number[] => [...u32(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...u32(body.length), ...body];
const str = (s: string): number[] => vec([...Buffer.from(s, 'utf8')].map((c) => [c]));

const I32 = 0x7f,
  F32 = 0x7d,
  V128 = 0x7b;
const op = {
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
  i32: (v: number) => [0x41, ...s32(v)],
  i32Add: [0x6a],
  i32Mul: [0x6c],
  i32ShrU: [0x76],
  f32ConvertI32U: [0xb3],
  i32And: [0x71],
  i32GeU: [0x4f],
  f32Load: [0x2a, 2, 0], // align 2^2, offset 0
  f32Store: [0x38, 2, 0],
  v128Load: [0xfd, ...u32(0), 2, 0], // the align field is a hint: tensors need not be 16-byte aligned
  v128Store: [0xfd, ...u32(11), 2, 0],
  f32x4Splat: [0xfd, ...u32(19)],
  f32x4ReplaceLane: (lane: number) => [0xfd, ...u32(32), lane],
  /** i8x16.shuffle picking four f32 lanes of (a, b): 0–3 from a, 4–7 from b. */
  f32x4Shuffle: (lanes: number[]) => [
    0xfd,
    ...u32(13),
    ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]),
  ],
};
type AnyOp = SimdOp | 'sqrt';
const SCALAR: Record<AnyOp, number[]> = { add: [0x92], sub: [0x93], mul: [0x94], div: [0x95], sqrt: [0x91] };
const LANES: Record<AnyOp, number[]> = {
  add: [0xfd, ...u32(228)],
  sub: [0xfd, ...u32(229)],
  mul: [0xfd, ...u32(230)],
  div: [0xfd, ...u32(231)],
  sqrt: [0xfd, ...u32(227)],
};

/** An operation's code: its operands' (each emitted by `operand`), then its own opcode. */
const operation = (
  e: Extract<Expr, { op: AnyOp }>,
  operand: (x: Expr) => number[],
  codes: Record<AnyOp, number[]>,
): number[] => [...operand(e.a), ...('b' in e ? operand(e.b) : []), ...codes[e.op]];

// The function's parameters: out, rows, rowBytes, then the inputs; locals after them.
const OUT = 0,
  ROWS = 1,
  ROW_BYTES = 2,
  IN0 = 3;

/** local += by (an i32 local). */
const advance = (local: number, by: number[]): number[] => [...op.get(local), ...by, ...op.i32Add, ...op.set(local)];

/** while (a < b) body — unsigned i32 locals. */
const whileLess = (a: number, b: number, body: number[]): number[] => [
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

function constants(e: Expr, into: number[] = []): number[] {
  if ('c' in e) {
    if (!into.includes(e.c)) into.push(e.c);
  } else if ('op' in e) {
    constants(e.a, into);
    if ('b' in e) constants(e.b, into);
  }
  return into;
}

/** The body of one function (locals and code, without the size prefix). */
function functionBody(k: SimdKernel): number[] {
  const cs = constants(k.expr);
  const param = (i: number) => IN0 + i;
  const I = IN0 + k.inputs.length; // i32: the byte offset in the row
  const N16 = I + 1; // i32: rowBytes rounded down to whole vectors
  const R = I + 2; // i32: the row
  // One f32 and one v128 local per value held in a register: the splat inputs' current values, then the constants.
  const held = [
    ...k.inputs.flatMap((kind, i) => (kind === 'col' || kind === 'scalar' ? [i] : [])),
    ...cs.map(() => -1),
  ];
  const f32Of = (j: number) => R + 1 + j;
  const v128Of = (j: number) => R + 1 + held.length + j;
  const heldInput = (i: number) => held.indexOf(i);
  const heldConst = (c: number) => held.length - cs.length + cs.indexOf(c);
  const emit = (e: Expr, vector: boolean): number[] => {
    if ('in' in e) {
      const kind = k.inputs[e.in];
      if (kind === 'col' || kind === 'scalar') return op.get((vector ? v128Of : f32Of)(heldInput(e.in)));
      return [...op.get(param(e.in)), ...op.get(I), ...op.i32Add, ...(vector ? op.v128Load : op.f32Load)];
    }
    if ('c' in e) return op.get((vector ? v128Of : f32Of)(heldConst(e.c)));
    return operation(e, (x) => emit(x, vector), vector ? LANES : SCALAR);
  };
  const hold = (j: number, load: number[]) => [
    ...load,
    ...op.set(f32Of(j)),
    ...op.get(f32Of(j)),
    ...op.f32x4Splat,
    ...op.set(v128Of(j)),
  ];
  const loadInput = (i: number) => [...op.get(param(i)), ...op.f32Load];
  // while (I < end) { out[I] = expr; I += step }
  const loop = (vector: boolean) =>
    whileLess(I, vector ? N16 : ROW_BYTES, [
      ...op.get(OUT),
      ...op.get(I),
      ...op.i32Add,
      ...emit(k.expr, vector),
      ...(vector ? op.v128Store : op.f32Store),
      ...advance(I, op.i32(vector ? 16 : 4)),
    ]);
  const code = [
    ...op.get(ROW_BYTES),
    ...op.i32(-16),
    ...op.i32And,
    ...op.set(N16),
    ...cs.flatMap((c) => hold(heldConst(c), op.f32(c))),
    ...k.inputs.flatMap((kind, i) => (kind === 'scalar' ? hold(heldInput(i), loadInput(i)) : [])),
    // one row at a time
    ...whileLess(R, ROWS, [
      ...k.inputs.flatMap((kind, i) => (kind === 'col' ? hold(heldInput(i), loadInput(i)) : [])),
      ...op.i32(0),
      ...op.set(I),
      ...loop(true),
      ...loop(false),
      ...advance(OUT, op.get(ROW_BYTES)),
      ...k.inputs.flatMap((kind, i) =>
        kind === 'full' ? advance(param(i), op.get(ROW_BYTES)) : kind === 'col' ? advance(param(i), op.i32(4)) : [],
      ),
      ...advance(R, op.i32(1)),
    ]),
    ...op.end,
  ];
  const locals = vec([
    [3, I32],
    ...(held.length === 0
      ? []
      : [
          [held.length, F32],
          [held.length, V128],
        ]),
  ]);
  return [...locals, ...code];
}

/**
 * The body of a `reduce` function. Rows go four at a time, one per lane of the sums: expr is computed over
 * four columns of each of the four rows, as the elementwise kernels do, and that 4 × 4 block transposed, so that at
 * each j lane q holds expr(r + q, j) and each lane's sum grows in j's order, as a single row's would. The rows'
 * remaining 0–3 columns are gathered one at a time (a `full` input from the four rows, a `col` input's four values
 * loaded at once, a `row` or `scalar` input splat); then the remaining rows one at a time, scalar.
 */
function reductionBody(k: SimdKernel): number[] {
  const param = (i: number) => IN0 + i;
  const I = IN0 + k.inputs.length; // i32: the byte offset in the row
  const R = I + 1; // i32: the row
  const R4 = I + 2; // i32: rows rounded down to a multiple of 4
  const RB2 = I + 3, // i32: 2 and 3 rows' bytes
    RB3 = I + 4;
  const N16 = I + 5; // i32: rowBytes rounded down to whole vectors
  const ACC = I + 6; // v128: four rows' sums
  const E = I + 7; // v128 × 4: expr over four columns of each of the four rows, then those transposed
  const ACC1 = I + 11; // f32: one row's sum
  const D = I + 12; // f32: the row length, the divisor
  // expr over columns j…j+3 of row r + q (lanes = columns), as the elementwise kernels read their inputs.
  const emitRow = (e: Expr, q: number): number[] => {
    if ('in' in e) {
      const kind = k.inputs[e.in];
      const rowAt = q === 0 ? [] : [...op.get(q === 1 ? ROW_BYTES : q === 2 ? RB2 : RB3), ...op.i32Add];
      if (kind === 'full') return [...op.get(param(e.in)), ...op.get(I), ...op.i32Add, ...rowAt, ...op.v128Load];
      if (kind === 'row') return [...op.get(param(e.in)), ...op.get(I), ...op.i32Add, ...op.v128Load];
      const at = kind === 'col' && q > 0 ? [...op.i32(4 * q), ...op.i32Add] : [];
      return [...op.get(param(e.in)), ...at, ...op.f32Load, ...op.f32x4Splat];
    }
    if ('c' in e) return [...op.f32(e.c), ...op.f32x4Splat];
    return operation(e, (x) => emitRow(x, q), LANES);
  };
  // The 4 × 4 block [row q][column c] turned to [column c][row q] with two rounds of shuffles, then added to the
  // sums column by column (j, j + 1, j + 2, j + 3: each row's order).
  const pair = (a: number, b: number, lanes: number[]) => [...op.get(a), ...op.get(b), ...op.f32x4Shuffle(lanes)];
  const blockSum = [
    ...[0, 1, 2, 3].flatMap((q) => [...emitRow(k.expr, q), ...op.set(E + q)]),
    ...pair(E, E + 1, [0, 4, 1, 5]), // a0 b0 a1 b1
    ...pair(E, E + 1, [2, 6, 3, 7]), // a2 b2 a3 b3
    ...pair(E + 2, E + 3, [0, 4, 1, 5]),
    ...pair(E + 2, E + 3, [2, 6, 3, 7]),
    ...op.set(E + 3),
    ...op.set(E + 2),
    ...op.set(E + 1),
    ...op.set(E),
    ...[
      [E, E + 2, [0, 1, 4, 5]],
      [E, E + 2, [2, 3, 6, 7]],
      [E + 1, E + 3, [0, 1, 4, 5]],
      [E + 1, E + 3, [2, 3, 6, 7]],
    ].flatMap(([a, b, lanes]) => [
      ...op.get(ACC),
      ...pair(a as number, b as number, lanes as number[]),
      ...LANES.add,
      ...op.set(ACC),
    ]),
  ];
  const emit = (e: Expr, vector: boolean): number[] => {
    if ('in' in e) {
      const kind = k.inputs[e.in];
      const at = (rowBytes: number[]) => [...op.get(param(e.in)), ...op.get(I), ...op.i32Add, ...rowBytes];
      if (kind === 'full' && vector)
        return [
          ...at([]),
          ...op.f32Load,
          ...op.f32x4Splat,
          ...at([...op.get(ROW_BYTES), ...op.i32Add]),
          ...op.f32Load,
          ...op.f32x4ReplaceLane(1),
          ...at([...op.get(RB2), ...op.i32Add]),
          ...op.f32Load,
          ...op.f32x4ReplaceLane(2),
          ...at([...op.get(RB3), ...op.i32Add]),
          ...op.f32Load,
          ...op.f32x4ReplaceLane(3),
        ];
      if (kind === 'full' || kind === 'row') return [...at([]), ...op.f32Load, ...(vector ? op.f32x4Splat : [])];
      // col: this row's value (four rows' in a vector); scalar: the one value
      return [
        ...op.get(param(e.in)),
        ...(vector && kind === 'col' ? op.v128Load : op.f32Load),
        ...(vector && kind === 'scalar' ? op.f32x4Splat : []),
      ];
    }
    if ('c' in e) return [...op.f32(e.c), ...(vector ? op.f32x4Splat : [])];
    return operation(e, (x) => emit(x, vector), vector ? LANES : SCALAR);
  };
  // After `rows` rows: a `full` input moves down that many rows, a `col` one that many values; `row` and `scalar` stay.
  const nextRows = (rows: number) =>
    k.inputs.flatMap((kind, i) =>
      kind === 'full'
        ? advance(param(i), rows === 4 ? [...op.get(RB2), ...op.get(RB2), ...op.i32Add] : op.get(ROW_BYTES))
        : kind === 'col'
          ? advance(param(i), op.i32(4 * rows))
          : [],
    );
  const rowSum = (vector: boolean) => [
    ...op.i32(0),
    ...op.set(I),
    ...(vector ? [...op.f32(0), ...op.f32x4Splat, ...op.set(ACC)] : [...op.f32(0), ...op.set(ACC1)]),
    // Four rows: whole 4 × 4 blocks first, then the remaining 0–3 columns gathered one at a time.
    ...(vector ? whileLess(I, N16, [...blockSum, ...advance(I, op.i32(16))]) : []),
    ...whileLess(I, ROW_BYTES, [
      ...op.get(vector ? ACC : ACC1),
      ...emit(k.expr, vector),
      ...(vector ? LANES.add : SCALAR.add),
      ...op.set(vector ? ACC : ACC1),
      ...advance(I, op.i32(4)),
    ]),
  ];
  const code = [
    ...op.get(ROWS),
    ...op.i32(-4),
    ...op.i32And,
    ...op.set(R4),
    ...op.get(ROW_BYTES),
    ...op.i32(-16),
    ...op.i32And,
    ...op.set(N16),
    ...op.get(ROW_BYTES),
    ...op.i32(2),
    ...op.i32Mul,
    ...op.set(RB2),
    ...op.get(RB2),
    ...op.get(ROW_BYTES),
    ...op.i32Add,
    ...op.set(RB3),
    ...op.get(ROW_BYTES),
    ...op.i32(2),
    ...op.i32ShrU, // the row's element count, as tfjs's Mean divides by it
    ...op.f32ConvertI32U,
    ...op.set(D),
    ...whileLess(R, R4, [
      ...rowSum(true),
      ...op.get(OUT),
      ...op.get(ACC),
      ...(k.reduce === 'mean' ? [...op.get(D), ...op.f32x4Splat, ...LANES.div] : []),
      ...op.v128Store,
      ...advance(OUT, op.i32(16)),
      ...nextRows(4),
      ...advance(R, op.i32(4)),
    ]),
    ...whileLess(R, ROWS, [
      ...rowSum(false),
      ...op.get(OUT),
      ...op.get(ACC1),
      ...(k.reduce === 'mean' ? [...op.get(D), ...SCALAR.div] : []),
      ...op.f32Store,
      ...advance(OUT, op.i32(4)),
      ...nextRows(1),
      ...advance(R, op.i32(1)),
    ]),
    ...op.end,
  ];
  const locals = vec([
    [6, I32],
    [5, V128],
    [2, F32],
  ]);
  return [...locals, ...code];
}

/**
 * The name of the module's one function that is not a kernel's: `(out, in, a, b, c, chunkBytes)` copies in, read as
 * [a, b, c, chunk] with chunks of chunkBytes (a multiple of 16), to out as [a, c, b, chunk] — tf.transpose with perm
 * [0, 2, 1, 3], a pure copy, so its bits — reading in in order, a chunk at a time in whole vectors.
 */
export const SWAP_MIDDLE_AXES = 'swapMiddleAxes';
export type SwapMiddleAxes = (out: number, inp: number, a: number, b: number, c: number, chunkBytes: number) => void;

function swapMiddleAxesBody(): number[] {
  const [OUT_AT, IN_AT, A, B, C, CH] = [0, 1, 2, 3, 4, 5];
  const [IA, IB, IC, K, DST, STRIDE, PLANE] = [6, 7, 8, 9, 10, 11, 12];
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
            ...op.v128Store,
            ...advance(K, op.i32(16)),
          ]),
          ...advance(IN_AT, op.get(CH)),
          ...advance(DST, op.get(STRIDE)),
          ...advance(IC, op.i32(1)),
        ]),
        ...advance(IB, op.i32(1)),
      ]),
      ...advance(OUT_AT, op.get(PLANE)),
      ...advance(IA, op.i32(1)),
    ]),
    ...op.end,
  ];
  return [...vec([[7, I32]]), ...code];
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

function expF32Body(): number[] {
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

/**
 * The module: memory imported as env.memory, one exported function per kernel, under the kernel's name,
 * SWAP_MIDDLE_AXES and EXP_F32.
 */
export function simdModuleBytes(kernels: readonly SimdKernel[]): Uint8Array {
  const arities = [...new Set([...kernels.map((k) => k.inputs.length), 3, 1])]; // 3 + 3, 3 + 1: the two others'
  const type = (n: number) => [0x60, ...vec(Array.from({ length: 3 + n }, () => [I32])), ...vec([])];
  const memoryImport = [...str('env'), ...str('memory'), 0x02, 0x00, ...u32(0)]; // memory, limits min 0, no max
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(arities.map(type))),
    ...section(2, vec([memoryImport])),
    ...section(
      3,
      vec([
        ...kernels.map((k) => u32(arities.indexOf(k.inputs.length))),
        u32(arities.indexOf(3)),
        u32(arities.indexOf(1)),
      ]),
    ),
    ...section(
      7,
      vec([...kernels.map((k) => k.name), SWAP_MIDDLE_AXES, EXP_F32].map((name, i) => [...str(name), 0x00, ...u32(i)])),
    ),
    ...section(
      10,
      vec(
        [
          ...kernels.map((k) => (k.reduce === undefined ? functionBody(k) : reductionBody(k))),
          swapMiddleAxesBody(),
          expF32Body(),
        ].map((b) => [...u32(b.length), ...b]),
      ),
    ),
  ]);
}

/**
 * Instantiates the kernels on `memory` (tfjs's heap). Undefined where this runtime lacks wasm SIMD or refuses the
 * memory (a shared one: the threaded build), so callers keep tfjs's kernels.
 */
export function instantiateSimd(
  memory: WasmMemory,
  kernels: readonly SimdKernel[],
): Record<string, SimdFunction> | undefined {
  try {
    const module = new wasmApi.Module(simdModuleBytes(kernels));
    const instance = new wasmApi.Instance(module, { env: { memory } });
    return instance.exports as Record<string, SimdFunction>;
  } catch {
    return undefined;
  }
}
