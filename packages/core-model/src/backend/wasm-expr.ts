/**
 * The expression language of wasm-simd.ts's kernels: float32 expressions over a kernel's inputs, what each operation
 * compiles to on four lanes and on one value, and what the compiler needs to know of an expression (its operands in
 * evaluation order, its constants, the terms it uses more than once).
 */
import { op, u32 } from './wasm-encoding';

/**
 * An expression over the inputs' elements: an input, a float32 constant, an operation on two expressions, or a
 * square root of one. Each is one IEEE float32 operation, correctly rounded, as tfjs's Add, Sub, Mul, RealDiv and
 * Sqrt are (its Rsqrt is 1 / sqrt(x), two roundings: `div(constant(1), sqrt(x))`). The rest are exact: |a|; the
 * float whose bits are a's shifted left by 23 (2^n from a value whose low bits hold n, as exponentials build it);
 * a > b ? then : else; a's sign bit set ? then : else. An expression object used in several places (one output's
 * term in another, say) is computed once per element and kept in a local (not in reductions: computed again).
 */
export type Expr =
  | { readonly in: number }
  | { readonly c: number }
  | { readonly op: SimdOp; readonly a: Expr; readonly b: Expr }
  | { readonly op: 'sqrt' | 'abs' | 'shl23'; readonly a: Expr }
  | { readonly op: 'ifGt'; readonly a: Expr; readonly b: Expr; readonly then: Expr; readonly else: Expr }
  | { readonly op: 'ifNeg'; readonly a: Expr; readonly then: Expr; readonly else: Expr };
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
export const abs = (a: Expr): Expr => ({ op: 'abs', a });
export const shl23 = (a: Expr): Expr => ({ op: 'shl23', a });
export const ifGt = (a: Expr, b: Expr, then: Expr, otherwise: Expr): Expr => ({
  op: 'ifGt',
  a,
  b,
  then,
  else: otherwise,
});
export const ifNeg = (a: Expr, then: Expr, otherwise: Expr): Expr => ({ op: 'ifNeg', a, then, else: otherwise });

/** An expression's operands, in the order its code evaluates them. */
export const operands = (e: Expr): Expr[] =>
  !('op' in e)
    ? []
    : e.op === 'ifGt'
      ? [e.then, e.else, e.a, e.b]
      : e.op === 'ifNeg'
        ? [e.then, e.else, e.a]
        : 'b' in e
          ? [e.a, e.b]
          : [e.a];

/** The rounded operations' opcodes: on one f32 (SCALAR) and on four lanes (LANES). */
type AnyOp = SimdOp | 'sqrt';
export const SCALAR: Record<AnyOp, number[]> = { add: [0x92], sub: [0x93], mul: [0x94], div: [0x95], sqrt: [0x91] };
export const LANES: Record<AnyOp, number[]> = {
  add: [0xfd, ...u32(228)],
  sub: [0xfd, ...u32(229)],
  mul: [0xfd, ...u32(230)],
  div: [0xfd, ...u32(231)],
  sqrt: [0xfd, ...u32(227)],
};

/** The exact operations' code after their operands (vector: four lanes; else one f32). */
const EXACT: Record<'abs' | 'shl23' | 'ifGt' | 'ifNeg', { vector: number[]; scalar: number[] }> = {
  abs: { vector: op.f32x4Abs, scalar: op.f32Abs },
  shl23: {
    vector: [...op.i32(23), ...op.i32x4Shl],
    scalar: [...op.i32ReinterpretF32, ...op.i32(23), ...op.i32Shl, ...op.f32ReinterpretI32],
  },
  ifGt: { vector: [...op.f32x4Gt, ...op.v128Bitselect], scalar: [...op.f32Gt, ...op.select] },
  ifNeg: {
    vector: [...op.i32(31), ...op.i32x4ShrS, ...op.v128Bitselect],
    scalar: [...op.i32ReinterpretF32, ...op.i32(0), ...op.i32LtS, ...op.select],
  },
};

/** An operation's code, on four lanes or one f32: its operands' (each emitted by `operand`), then its own. */
export const operation = (e: Expr, operand: (x: Expr) => number[], vector: boolean): number[] => {
  if (!('op' in e)) throw new Error(`not an operation: ${JSON.stringify(e)}`);
  const own = e.op in EXACT ? EXACT[e.op as keyof typeof EXACT] : undefined;
  return [
    ...operands(e).flatMap(operand),
    ...(own !== undefined ? own[vector ? 'vector' : 'scalar'] : (vector ? LANES : SCALAR)[e.op as AnyOp]),
  ];
};

/** The distinct constants of `e`, added to `into` in the order first met. */
export function constants(e: Expr, into: number[] = []): number[] {
  if ('c' in e) {
    if (!into.includes(e.c)) into.push(e.c);
  } else for (const x of operands(e)) constants(x, into);
  return into;
}

/** The operations that `outputs` use more than once (by object identity), each to be computed once. */
export function sharedNodes(outputs: readonly Expr[]): Expr[] {
  const uses = new Map<Expr, number>();
  const walk = (e: Expr) => {
    const n = (uses.get(e) ?? 0) + 1;
    uses.set(e, n);
    if (n === 1) operands(e).forEach(walk);
  };
  outputs.forEach(walk);
  return [...uses].filter(([e, n]) => n > 1 && 'op' in e).map(([e]) => e);
}
