/**
 * Elementwise kernels for the wasm backend as a small WebAssembly SIMD module of our own, written here as bytes.
 *
 * A chain of tfjs ops (a GELU is 7 kernels forward and 15 backward) passes over its tensor once per op, and at a
 * training step's sizes (a [2048, 512] activation is 4 MB) each pass is bound by memory traffic, not arithmetic. An
 * expression (wasm-expr.ts) over the chain's inputs, compiled here to one loop that reads each input once and writes
 * once, does the same float32 operations in the same order four lanes at a time. wasm SIMD has no fused multiply-add
 * and rounds each operation as IEEE float32, like tfjs's own kernels, so the results are theirs bit for bit
 * (wasm-fused.spec.ts): training runs do not change by a digit. The module imports the backend's own
 * `WebAssembly.Memory` and addresses tensors by their byte offsets in it, with no copies.
 *
 * Each compiled function is `(out, rows, rowBytes, in0, in1, …)`, all i32 (byte offsets and sizes): row by row,
 * out[r, j] = expr(in0(r, j), in1(r, j), …) with each input read as its `InputKind` says (the output's layout, a
 * row repeated under every row, one value per row, or one value), whole vectors first (four at a time, each
 * operation for the four before the next, so that long chains overlap), then the row's remaining 0–3 elements one at
 * a time; a kernel with `more` expressions writes each to an output of its own in the same pass (their offsets follow
 * the inputs'). A kernel with `reduce: 'sum'` writes one value per row instead, out[r] = Σ_j expr(r, j), summing j in
 * order as tfjs's Sum does (so its bits too), and `reduce: 'mean'` that divided by the row's length, as tfjs's Mean
 * does; four rows go through the four lanes at once, the rows' remaining 0–3 one at a time. The module also holds
 * wasm-functions.ts's functions that are not expressions: SWAP_MIDDLE_AXES, a transpose by whole rows,
 * SWAP_MIDDLE_AXES_ADD, the same adding a bias, EXP_F32, tfjs's float32 exponential, and SUM_LEADING, a sum over
 * leading axes.
 */

import { advance, F32, I32, op, roundDown, section, str, u32, V128, vec, whileLess } from './wasm-encoding';
import { constants, LANES, operands, operation, SCALAR, sharedNodes, type Expr } from './wasm-expr';
import {
  EXP_F32,
  expF32Body,
  SUM_LEADING,
  sumLeadingBody,
  SWAP_MIDDLE_AXES,
  SWAP_MIDDLE_AXES_ADD,
  swapMiddleAxesBody,
} from './wasm-functions';

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
  /**
   * More outputs of the output's layout, each its own expression of the same element's inputs, written in the same
   * pass (not with `reduce`); their offsets are the function's last parameters, after the inputs'.
   */
  readonly more?: readonly Expr[];
}

/** A kernel function's parameter count: out, rows, rowBytes, the inputs, the further outputs. */
const arity = (k: SimdKernel): number => 3 + k.inputs.length + (k.more?.length ?? 0);

/** A `WebAssembly.Memory` (the project's TypeScript libs do not declare the WebAssembly namespace). */
export type WasmMemory = object;
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

export type SimdFunction = (out: number, rows: number, rowBytes: number, ...inputs: number[]) => void;

// The function's parameters: out, rows, rowBytes, then the inputs; locals after them.
const OUT = 0,
  ROWS = 1,
  ROW_BYTES = 2,
  IN0 = 3;

/** The body of one function (locals and code, without the size prefix). */
function functionBody(k: SimdKernel): number[] {
  const outputs = [k.expr, ...(k.more ?? [])];
  const cs = outputs.reduce<number[]>((into, e) => constants(e, into), []);
  const param = (i: number) => IN0 + i;
  const outParam = (o: number) => (o === 0 ? OUT : IN0 + k.inputs.length + o - 1);
  const I = arity(k); // i32: the byte offset in the row
  const N16 = I + 1; // i32: rowBytes rounded down to whole vectors
  const R = I + 2; // i32: the row
  const N64 = I + 3; // i32: rowBytes rounded down to groups of four vectors
  const BASE = I + 4; // the first of the locals below
  // One f32 and one v128 local per value held in a register: the splat inputs' current values, then the constants.
  const held = [
    ...k.inputs.flatMap((kind, i) => (kind === 'col' || kind === 'scalar' ? [i] : [])),
    ...cs.map(() => -1),
  ];
  const f32Of = (j: number) => BASE + j;
  const v128Of = (j: number) => BASE + held.length + j;
  const heldInput = (i: number) => held.indexOf(i);
  const heldConst = (c: number) => held.length - cs.length + cs.indexOf(c);
  // Then one f32 and one v128 local per operation used more than once: the first use computes it and keeps it there.
  const shared = sharedNodes(outputs);
  const sharedLocal = (e: Expr, vector: boolean) =>
    BASE + 2 * held.length + (vector ? shared.length : 0) + shared.indexOf(e);
  // `done`: the shared operations already computed for this element (code is emitted in evaluation order).
  const emit = (e: Expr, vector: boolean, done: Set<Expr>): number[] => {
    if ('in' in e) {
      const kind = k.inputs[e.in];
      if (kind === 'col' || kind === 'scalar') return op.get((vector ? v128Of : f32Of)(heldInput(e.in)));
      return [...op.get(param(e.in)), ...op.get(I), ...op.i32Add, ...(vector ? op.v128Load : op.f32Load)];
    }
    if ('c' in e) return op.get((vector ? v128Of : f32Of)(heldConst(e.c)));
    const isShared = shared.includes(e);
    if (isShared && done.has(e)) return op.get(sharedLocal(e, vector));
    const code = operation(e, (x) => emit(x, vector, done), vector);
    if (!isShared) return code;
    done.add(e);
    return [...code, ...op.tee(sharedLocal(e, vector))];
  };
  const hold = (j: number, load: number[]) => [
    ...load,
    ...op.set(f32Of(j)),
    ...op.get(f32Of(j)),
    ...op.f32x4Splat,
    ...op.set(v128Of(j)),
  ];
  const loadInput = (i: number) => [...op.get(param(i)), ...op.f32Load];
  // Four vectors at a time, each operation done for the four before the next (interleaved, so that the CPU has four
  // independent chains to overlap: a sigmoid is ~25 dependent operations), each value in a local of its own.
  const order: Expr[] = [];
  const visit = (e: Expr) => {
    if (order.includes(e)) return;
    operands(e).forEach(visit);
    order.push(e);
  };
  outputs.forEach(visit);
  const isHeld = (e: Expr) => 'c' in e || ('in' in e && (k.inputs[e.in] === 'col' || k.inputs[e.in] === 'scalar'));
  const computed = order.filter((e) => !isHeld(e));
  const UNROLLED = BASE + 2 * held.length + 2 * shared.length;
  const value = (e: Expr, u: number): number[] =>
    isHeld(e) ? emit(e, true, new Set()) : op.get(UNROLLED + 4 * computed.indexOf(e) + u);
  const unrolled = whileLess(I, N64, [
    ...computed.flatMap((e) =>
      [0, 1, 2, 3].flatMap((u) => [
        ...('in' in e
          ? [...op.get(param(e.in)), ...op.get(I), ...op.i32Add, ...op.v128LoadAt(16 * u)]
          : operation(e, (x) => value(x, u), true)),
        ...op.set(UNROLLED + 4 * computed.indexOf(e) + u),
      ]),
    ),
    ...outputs.flatMap((e, o) =>
      [0, 1, 2, 3].flatMap((u) => [
        ...op.get(outParam(o)),
        ...op.get(I),
        ...op.i32Add,
        ...value(e, u),
        ...op.v128StoreAt(16 * u),
      ]),
    ),
    ...advance(I, op.i32(64)),
  ]);
  // while (I < end) { out[I] = expr; out1[I] = more[0]; …; I += step }
  const loop = (vector: boolean) => {
    const done = new Set<Expr>();
    return whileLess(I, vector ? N16 : ROW_BYTES, [
      ...outputs.flatMap((e, o) => [
        ...op.get(outParam(o)),
        ...op.get(I),
        ...op.i32Add,
        ...emit(e, vector, done),
        ...(vector ? op.v128Store : op.f32Store),
      ]),
      ...advance(I, op.i32(vector ? 16 : 4)),
    ]);
  };
  const code = [
    ...roundDown(ROW_BYTES, 16, N16),
    ...roundDown(ROW_BYTES, 64, N64),
    ...cs.flatMap((c) => hold(heldConst(c), op.f32(c))),
    ...k.inputs.flatMap((kind, i) => (kind === 'scalar' ? hold(heldInput(i), loadInput(i)) : [])),
    // one row at a time
    ...whileLess(R, ROWS, [
      ...k.inputs.flatMap((kind, i) => (kind === 'col' ? hold(heldInput(i), loadInput(i)) : [])),
      ...op.i32(0),
      ...op.set(I),
      ...unrolled,
      ...loop(true),
      ...loop(false),
      ...outputs.flatMap((_, o) => advance(outParam(o), op.get(ROW_BYTES))),
      ...k.inputs.flatMap((kind, i) =>
        kind === 'full' ? advance(param(i), op.get(ROW_BYTES)) : kind === 'col' ? advance(param(i), op.i32(4)) : [],
      ),
      ...advance(R, op.i32(1)),
    ]),
    ...op.end,
  ];
  const counts: [number, number][] = [
    [4, I32],
    [held.length, F32],
    [held.length, V128],
    [shared.length, F32],
    [shared.length, V128],
    [4 * computed.length, V128],
  ];
  const locals = vec(counts.filter(([n]) => n > 0).map(([n, type]) => [...u32(n), type]));
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
  // v128: a `col` input's values of the four rows, each splat (loaded once per four rows, not once per block), and a
  // `scalar` input's value splat (loaded once).
  const splats = k.inputs.flatMap((kind, i) =>
    kind === 'col' ? [0, 1, 2, 3].map((q) => ({ i, q })) : kind === 'scalar' ? [{ i, q: 0 }] : [],
  );
  const splat = (i: number, q: number) => I + 13 + splats.findIndex((x) => x.i === i && x.q === q);
  const loadSplats = (kind: InputKind) =>
    splats.flatMap(({ i, q }) =>
      k.inputs[i] === kind
        ? [
            ...op.get(param(i)),
            ...(q > 0 ? [...op.i32(4 * q), ...op.i32Add] : []),
            ...op.f32Load,
            ...op.f32x4Splat,
            ...op.set(splat(i, q)),
          ]
        : [],
    );
  // expr over columns j…j+3 of row r + q (lanes = columns), as the elementwise kernels read their inputs.
  const emitRow = (e: Expr, q: number): number[] => {
    if ('in' in e) {
      const kind = k.inputs[e.in];
      const rowAt = q === 0 ? [] : [...op.get(q === 1 ? ROW_BYTES : q === 2 ? RB2 : RB3), ...op.i32Add];
      if (kind === 'full') return [...op.get(param(e.in)), ...op.get(I), ...op.i32Add, ...rowAt, ...op.v128Load];
      if (kind === 'row') return [...op.get(param(e.in)), ...op.get(I), ...op.i32Add, ...op.v128Load];
      return op.get(splat(e.in, kind === 'col' ? q : 0));
    }
    if ('c' in e) return [...op.f32(e.c), ...op.f32x4Splat];
    return operation(e, (x) => emitRow(x, q), true);
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
    return operation(e, (x) => emit(x, vector), vector);
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
    ...roundDown(ROWS, 4, R4),
    ...roundDown(ROW_BYTES, 16, N16),
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
    ...loadSplats('scalar'),
    ...whileLess(R, R4, [
      ...loadSplats('col'),
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
  const locals = vec([[6, I32], [5, V128], [2, F32], ...(splats.length === 0 ? [] : [[splats.length, V128]])]);
  return [...locals, ...code];
}

/**
 * The module: memory imported as env.memory, one exported function per kernel, under the kernel's name,
 * SWAP_MIDDLE_AXES, SWAP_MIDDLE_AXES_ADD, EXP_F32 and SUM_LEADING.
 */
export function simdModuleBytes(kernels: readonly SimdKernel[]): Uint8Array {
  const both = kernels.find((k) => k.reduce !== undefined && (k.more?.length ?? 0) > 0);
  if (both !== undefined) throw new Error(`${both.name}: a reduction has one output`);
  const arities = [...new Set([...kernels.map(arity), 6, 7, 4, 4])]; // the four others'
  const type = (n: number) => [0x60, ...vec(Array.from({ length: n }, () => [I32])), ...vec([])];
  const memoryImport = [...str('env'), ...str('memory'), 0x02, 0x00, ...u32(0)]; // memory, limits min 0, no max
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(arities.map(type))),
    ...section(2, vec([memoryImport])),
    ...section(3, vec([...kernels.map(arity), 6, 7, 4, 4].map((n) => u32(arities.indexOf(n))))),
    ...section(
      7,
      vec(
        [...kernels.map((k) => k.name), SWAP_MIDDLE_AXES, SWAP_MIDDLE_AXES_ADD, EXP_F32, SUM_LEADING].map((name, i) => [
          ...str(name),
          0x00,
          ...u32(i),
        ]),
      ),
    ),
    ...section(
      10,
      vec(
        [
          ...kernels.map((k) => (k.reduce === undefined ? functionBody(k) : reductionBody(k))),
          swapMiddleAxesBody(),
          swapMiddleAxesBody(true),
          expF32Body(),
          sumLeadingBody(),
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
