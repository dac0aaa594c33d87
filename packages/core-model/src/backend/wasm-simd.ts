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
 * 0–3 elements one at a time.
 */

/** An expression over the inputs' elements: an input, a float32 constant, or an operation on two expressions. */
export type Expr =
  { readonly in: number } | { readonly c: number } | { readonly op: SimdOp; readonly a: Expr; readonly b: Expr };
export type SimdOp = 'add' | 'sub' | 'mul';
export const input = (i: number): Expr => ({ in: i });
/** A constant, rounded to float32 as tfjs rounds a JS number operand. */
export const constant = (v: number): Expr => ({ c: Math.fround(v) });
const binary =
  (o: SimdOp) =>
  (a: Expr, b: Expr): Expr => ({ op: o, a, b });
export const add = binary('add');
export const sub = binary('sub');
export const mul = binary('mul');

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
  i32And: [0x71],
  i32GeU: [0x4f],
  f32Load: [0x2a, 2, 0], // align 2^2, offset 0
  f32Store: [0x38, 2, 0],
  v128Load: [0xfd, ...u32(0), 2, 0], // the align field is a hint: tensors need not be 16-byte aligned
  v128Store: [0xfd, ...u32(11), 2, 0],
  f32x4Splat: [0xfd, ...u32(19)],
};
const SCALAR: Record<SimdOp, number[]> = { add: [0x92], sub: [0x93], mul: [0x94] };
const LANES: Record<SimdOp, number[]> = {
  add: [0xfd, ...u32(228)],
  sub: [0xfd, ...u32(229)],
  mul: [0xfd, ...u32(230)],
};

// The function's parameters: out, rows, rowBytes, then the inputs; locals after them.
const OUT = 0,
  ROWS = 1,
  ROW_BYTES = 2,
  IN0 = 3;

function constants(e: Expr, into: number[] = []): number[] {
  if ('c' in e) {
    if (!into.includes(e.c)) into.push(e.c);
  } else if ('op' in e) {
    constants(e.a, into);
    constants(e.b, into);
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
    return [...emit(e.a, vector), ...emit(e.b, vector), ...(vector ? LANES[e.op] : SCALAR[e.op])];
  };
  const hold = (j: number, load: number[]) => [
    ...load,
    ...op.set(f32Of(j)),
    ...op.get(f32Of(j)),
    ...op.f32x4Splat,
    ...op.set(v128Of(j)),
  ];
  const loadInput = (i: number) => [...op.get(param(i)), ...op.f32Load];
  const advance = (local: number, by: number[]) => [...op.get(local), ...by, ...op.i32Add, ...op.set(local)];
  const loop = (vector: boolean) => [
    // while (I < end) { out[I] = expr; I += step }
    ...op.block,
    ...op.loop,
    ...op.get(I),
    ...op.get(vector ? N16 : ROW_BYTES),
    ...op.i32GeU,
    ...op.brIf(1),
    ...op.get(OUT),
    ...op.get(I),
    ...op.i32Add,
    ...emit(k.expr, vector),
    ...(vector ? op.v128Store : op.f32Store),
    ...advance(I, op.i32(vector ? 16 : 4)),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
  const code = [
    ...op.get(ROW_BYTES),
    ...op.i32(-16),
    ...op.i32And,
    ...op.set(N16),
    ...cs.flatMap((c) => hold(heldConst(c), op.f32(c))),
    ...k.inputs.flatMap((kind, i) => (kind === 'scalar' ? hold(heldInput(i), loadInput(i)) : [])),
    // while (R < rows): one row
    ...op.block,
    ...op.loop,
    ...op.get(R),
    ...op.get(ROWS),
    ...op.i32GeU,
    ...op.brIf(1),
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
    ...op.br(0),
    ...op.end,
    ...op.end,
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

/** The module: memory imported as env.memory, one exported function per kernel, under the kernel's name. */
export function simdModuleBytes(kernels: readonly SimdKernel[]): Uint8Array {
  const arities = [...new Set(kernels.map((k) => k.inputs.length))];
  const type = (n: number) => [0x60, ...vec(Array.from({ length: 3 + n }, () => [I32])), ...vec([])];
  const memoryImport = [...str('env'), ...str('memory'), 0x02, 0x00, ...u32(0)]; // memory, limits min 0, no max
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(arities.map(type))),
    ...section(2, vec([memoryImport])),
    ...section(3, vec(kernels.map((k) => u32(arities.indexOf(k.inputs.length))))),
    ...section(7, vec(kernels.map((k, i) => [...str(k.name), 0x00, ...u32(i)]))),
    ...section(
      10,
      vec(
        kernels.map((k) => {
          const b = functionBody(k);
          return [...u32(b.length), ...b];
        }),
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
