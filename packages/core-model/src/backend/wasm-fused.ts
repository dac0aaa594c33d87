/**
 * Fused elementwise kernels for the wasm backend, on wasm-simd.ts's compiled expressions. Each replaces a run of
 * composed tfjs ops (model/ops.ts's, the optimizers') by one pass that does the same float32 operations in the same
 * order, so the values are the composed ops' bit for bit (wasm-fused.spec.ts) and training runs do not change by a
 * digit. tfjs's sigmoid is XNNPACK's approximation, written out here step by step (xnnSigmoid: its bits); the softmax
 * stays tfjs's own kernel. The layer norm's means are here, and the softmax gradient's row sum (tfjs's Sum and Mean
 * add a row in order in float32, Mean then divides by its length: the `sum` and `mean` kernels do the same); the other
 * sums stay tfjs's. Shapes: x, dy, g [N, D]; m, inv, mg, mgx [N, 1]; scale, bias [D]; s, p, dp [B, H, L, S];
 * r [B, H, L, 1].
 *
 *   RtGelu           x → x·s, s                                  (s = σ((x + x·x·x·a)·c), a = 0.044715, c = 2√(2/π),
 *                                                                  σ as tfjs's Sigmoid computes it: xnnSigmoid below)
 *   RtGeluGradPost   dy, x, s → dy·(s + x·(s·(1 − s))·((x·x·3a + 1)·c))
 *   RtRowMean        x → mean(x)                                 (over the last axis, [N, 1] out)
 *   RtLnVariance     x, m → mean((x − m)·(x − m))
 *   RtLnForward      x, m, inv, scale, bias → (x − m)·inv·scale + bias
 *   RtLnXhatTimes    dy, x, m, inv → dy·((x − m)·inv)
 * and the layer norm's gradient in x, where g = dy·scale is computed again in each pass that reads it (one rounding,
 * so the same bits as the tensor the composed op writes once and reads three times):
 *   RtLnMeanG        dy, scale → mean(g)
 *   RtLnMeanGXhat    dy, scale, x, m, inv → mean(g·((x − m)·inv))
 *   RtLnGradX        dy, scale, mg, x, m, inv, mgx → ((g − mg) − (x − m)·inv·mgx)·inv
 *   RtScores         s, c, bias → s·c + bias                      (bias [L, S] under every [B, H], or one value)
 *   RtSoftmaxGradR   dp, p → Σ dp·p                               (over S, [B, H, L, 1] out)
 *   RtSoftmaxGradDs  p, dp, r → p·(dp − r)
 *   RtAddRow         x, bias → x + bias                           (a dense layer's bias)
 * and the optimizers' elementwise updates (optim/), each the composed update's ops in its order, over a parameter
 * (or the flat buffer of all elementwise ones) and its slots, all of one shape, with scalars b1, c1, … :
 *   RtAdamM          m, g, b1, c1 → b1·m + c1·g                   (Adam's moments)
 *   RtAdamV          v, g, b2, c2 → b2·v + c2·(g·g)
 *   RtAdamU          m, v, d1, d2, eps → (m·d1) / (sqrt(v·d2) + eps)
 *   RtAfV            v, g, b2, c2, eps → b2·v + c2·(g·g + eps)    (Adafactor's unfactored second moment)
 *   RtAfM            m, g, v, mu, c → mu·m + c·(g·(1 / sqrt(v)))  (its momentum on u = g·rsqrt(v))
 *   RtStep           θ, u, lr → θ − u·lr                          (the chain's tail, optim/chain.ts)
 *   RtStepWd         θ, u, lr, wd → θ − (u·lr + θ·wd)
 *   RtStepWdEach     θ, u, lr, wd → θ − (u·lr + θ·wd)             (wd one value per element: kernels', biases' 0)
 *   RtAdamStep…      m, v, g, θ, b1, c1, b2, c2, d1, d2, eps, lr[, wd] → m', v', θ'   (Adam's moments, direction and
 *                                                                  the step in one pass, for RtAdamGroup below)
 * Two kernels are not expressions: RtAdamGroup runs RtAdamStep over each parameter of AdamW's flat group, and
 * RtSplitHeadsBias adds a projection's bias while it splits attention's heads (wasm-functions.ts's copy).
 * Composed, a GELU is 7 tfjs kernels forward and 15 backward and a layer norm 9 forward; with these, 1, 1 and 5
 * (counting the tfjs kernels left around them: the variance's add and rsqrt; model/ops.ts's GELU saves its sigmoid
 * for the backward pass).
 */
import * as tf from '@tensorflow/tfjs-core';
import { abs, add, constant, div, ifGt, ifNeg, input, mul, shl23, sqrt, sub, type Expr } from './wasm-expr';
import { instantiateSimd, type InputKind, type SimdFunction, type SimdKernel, type WasmMemory } from './wasm-simd';
import {
  EXP_F32,
  SUM_LEADING,
  SWAP_MIDDLE_AXES,
  SWAP_MIDDLE_AXES_ADD,
  type ExpF32,
  type SumLeading,
  type SwapMiddleAxes,
  type SwapMiddleAxesAdd,
} from './wasm-functions';
import { heapOffset, wasmBackend } from './wasm-internals';
import { GELU_A, GELU_C } from './webgpu-kernels';

interface Kernel extends SimdKernel {
  /** The tfjs input names, in the order of `inputs`. */
  readonly names: readonly string[];
}

/** A kernel over named inputs; `expr` gives one expression, or several for as many outputs (wasm-simd.ts's `more`). */
function kernel(
  name: string,
  inputs: Record<string, InputKind>,
  expr: (...x: Expr[]) => Expr | Expr[],
  reduce?: 'sum' | 'mean',
): Kernel {
  const names = Object.keys(inputs);
  const [first, ...more] = [expr(...names.map((_, i) => input(i)))].flat();
  return { name, names, inputs: Object.values(inputs), expr: first, reduce, ...(more.length > 0 ? { more } : {}) };
}

/**
 * The sigmoid tfjs's wasm Sigmoid computes: XNNPACK's float32 kernel for wasm SIMD (its "rr2_p5_div" variant).
 * e^−|x| = 2^n·(1 + t·p(t)) with n = round(−|x|·log2 e) found by a magic-number addition (2^n built from n's bits),
 * t the remainder after subtracting n·ln 2 in two parts (hi, lo) and p a degree-5 polynomial; then f = e / (e + 1),
 * 0 past the cut-off where e^−|x| underflows, and 1 − f for x ≥ 0. Its constants, and its operations in its order,
 * each rounded (wasm SIMD has no fused multiply-add), so the values are tfjs's bit for bit:
 * wasm-fused.sigmoid.spec.ts compares a million of them, special values included.
 */
const SIGMOID = {
  magic: 12583039, // 0x1.8000FEp23: 1.5·2^23 + 127, the exponent bias ready to shift into place
  minusLog2e: -1.4426950216293335, // −0x1.715476p+0
  ln2Hi: 0.693145751953125, // 0x1.62E400p-1
  ln2Lo: 1.428606765330187e-6, // 0x1.7F7D1Cp-20
  p: [-0.9999997019767761, 0.4999915063381195, -0.16667652130126953, 0.04189782217144966, -0.008289290592074394],
  cutoff: 87.33654022216797, // 0x1.5D589Ep+6
} as const;
export function xnnSigmoid(x: Expr): Expr {
  const k = SIGMOID;
  const z = abs(x);
  const n0 = add(constant(k.magic), mul(z, constant(k.minusLog2e)));
  const s = shl23(n0);
  const n = sub(n0, constant(k.magic));
  const t = add(add(z, mul(n, constant(k.ln2Hi))), mul(n, constant(k.ln2Lo)));
  // p = c1 + t·(c2 + t·(c3 + t·(c4 + t·c5)))
  let p = add(constant(k.p[3]), mul(t, constant(k.p[4])));
  for (const c of [k.p[2], k.p[1], k.p[0]]) p = add(constant(c), mul(t, p));
  const e = add(s, mul(mul(t, s), p));
  const f = ifGt(z, constant(k.cutoff), constant(0), div(e, add(e, constant(1))));
  return ifNeg(x, f, sub(constant(1), f));
}

// The optimizers' formulas, each in the composed update's order of operations.
const adamM = (m: Expr, g: Expr, b1: Expr, c1: Expr) => add(mul(b1, m), mul(c1, g));
const adamV = (v: Expr, g: Expr, b2: Expr, c2: Expr) => add(mul(b2, v), mul(c2, mul(g, g)));
const adamU = (m: Expr, v: Expr, d1: Expr, d2: Expr, eps: Expr) => div(mul(m, d1), add(sqrt(mul(v, d2)), eps));
const step = (theta: Expr, u: Expr, lr: Expr) => sub(theta, mul(u, lr));
const stepWd = (theta: Expr, u: Expr, lr: Expr, wd: Expr) => sub(theta, add(mul(u, lr), mul(theta, wd)));
/** Adam's m, v and the stepped θ of one element in one pass (u from the new m and v, recomputed: the same bits). */
const adamStep = (name: string, wd: InputKind | null): Kernel =>
  kernel(
    name,
    {
      m: 'full',
      v: 'full',
      g: 'full',
      theta: 'full',
      ...{ b1: 'scalar', c1: 'scalar', b2: 'scalar', c2: 'scalar', d1: 'scalar', d2: 'scalar', eps: 'scalar' },
      lr: 'scalar',
      ...(wd === null ? {} : { wd }),
    },
    (m, v, g, theta, b1, c1, b2, c2, d1, d2, eps, lr, wd) => {
      const [m1, v1] = [adamM(m, g, b1, c1), adamV(v, g, b2, c2)];
      const u = adamU(m1, v1, d1, d2, eps);
      return [m1, v1, wd === undefined ? step(theta, u, lr) : stepWd(theta, u, lr, wd)];
    },
  );

const xhat = (x: Expr, m: Expr, inv: Expr) => mul(sub(x, m), inv);
const KERNELS: readonly Kernel[] = [
  kernel('RtGelu', { x: 'full' }, (x) => {
    const s = xnnSigmoid(mul(add(x, mul(mul(mul(x, x), x), constant(GELU_A))), constant(GELU_C)));
    return [mul(x, s), s];
  }),
  kernel('RtGeluGradPost', { dy: 'full', x: 'full', s: 'full' }, (dy, x, s) => {
    const dz2 = mul(add(mul(mul(x, x), constant(3 * GELU_A)), constant(1)), constant(GELU_C));
    return mul(dy, add(s, mul(mul(x, mul(s, sub(constant(1), s))), dz2)));
  }),
  kernel('RtRowMean', { x: 'full' }, (x) => x, 'mean'),
  kernel('RtLnVariance', { x: 'full', m: 'col' }, (x, m) => mul(sub(x, m), sub(x, m)), 'mean'),
  kernel('RtLnForward', { x: 'full', m: 'col', inv: 'col', scale: 'row', bias: 'row' }, (x, m, inv, scale, bias) =>
    add(mul(xhat(x, m, inv), scale), bias),
  ),
  kernel('RtLnXhatTimes', { dy: 'full', x: 'full', m: 'col', inv: 'col' }, (dy, x, m, inv) => mul(dy, xhat(x, m, inv))),
  kernel('RtLnMeanG', { dy: 'full', scale: 'row' }, (dy, scale) => mul(dy, scale), 'mean'),
  kernel(
    'RtLnMeanGXhat',
    { dy: 'full', scale: 'row', x: 'full', m: 'col', inv: 'col' },
    (dy, scale, x, m, inv) => mul(mul(dy, scale), xhat(x, m, inv)),
    'mean',
  ),
  kernel(
    'RtLnGradX',
    { dy: 'full', scale: 'row', mg: 'col', x: 'full', m: 'col', inv: 'col', mgx: 'col' },
    (dy, scale, mg, x, m, inv, mgx) => mul(sub(sub(mul(dy, scale), mg), mul(xhat(x, m, inv), mgx)), inv),
  ),
  kernel('RtScores', { s: 'full', c: 'scalar', bias: 'row' }, (s, c, bias) => add(mul(s, c), bias)),
  kernel('RtScoresScalarBias', { s: 'full', c: 'scalar', bias: 'scalar' }, (s, c, bias) => add(mul(s, c), bias)),
  kernel('RtAddRow', { x: 'full', bias: 'row' }, (x, bias) => add(x, bias)),
  kernel('RtSoftmaxGradR', { dp: 'full', p: 'full' }, (dp, p) => mul(dp, p), 'sum'),
  kernel('RtSoftmaxGradDs', { p: 'full', dp: 'full', r: 'col' }, (p, dp, r) => mul(p, sub(dp, r))),
  kernel('RtAdamM', { m: 'full', g: 'full', b1: 'scalar', c1: 'scalar' }, adamM),
  kernel('RtAdamV', { v: 'full', g: 'full', b2: 'scalar', c2: 'scalar' }, adamV),
  kernel('RtAdamU', { m: 'full', v: 'full', d1: 'scalar', d2: 'scalar', eps: 'scalar' }, adamU),
  adamStep('RtAdamStep', null),
  adamStep('RtAdamStepWd', 'scalar'),
  adamStep('RtAdamStepWdEach', 'full'),
  kernel('RtAfV', { v: 'full', g: 'full', b2: 'scalar', c2: 'scalar', eps: 'scalar' }, (v, g, b2, c2, eps) =>
    add(mul(b2, v), mul(c2, add(mul(g, g), eps))),
  ),
  kernel('RtAfM', { m: 'full', g: 'full', v: 'full', mu: 'scalar', c: 'scalar' }, (m, g, v, mu, c) =>
    add(mul(mu, m), mul(c, mul(g, div(constant(1), sqrt(v))))),
  ),
  kernel('RtStep', { theta: 'full', u: 'full', lr: 'scalar' }, step),
  kernel('RtStepWd', { theta: 'full', u: 'full', lr: 'scalar', wd: 'scalar' }, stepWd),
  kernel('RtStepWdEach', { theta: 'full', u: 'full', lr: 'scalar', wd: 'full' }, stepWd),
];

/** The compiled kernels on each backend instance's heap (undefined where they cannot run on it: a shared heap). */
const onHeap = new WeakMap<WasmMemory, Record<string, SimdFunction> | undefined>();
function compiledOn(backend: unknown): Record<string, SimdFunction> | undefined {
  const memory = wasmBackend(backend).wasm.asm?.memory;
  if (memory === undefined) return undefined;
  if (!onHeap.has(memory)) onHeap.set(memory, instantiateSimd(memory, KERNELS));
  return onHeap.get(memory);
}

/** The module's axis-swapping copy (wasm-functions.ts) on the backend's heap, for wasm-kernels.ts's Transpose. */
export function swapMiddleAxesOn(backend: unknown): SwapMiddleAxes | undefined {
  return compiledOn(backend)?.[SWAP_MIDDLE_AXES] as SwapMiddleAxes | undefined;
}

/** The module's sum over leading axes (wasm-functions.ts) on the backend's heap, for wasm-kernels.ts's Sum. */
export function sumLeadingOn(backend: unknown): SumLeading | undefined {
  return compiledOn(backend)?.[SUM_LEADING] as SumLeading | undefined;
}

/** The module's float32 exponential (wasm-functions.ts) on the backend's heap, for wasm-kernels.ts's Exp. */
export function expF32On(backend: unknown): ExpF32 | undefined {
  return compiledOn(backend)?.[EXP_F32] as ExpF32 | undefined;
}

/**
 * rows × rowElements for a kernel's inputs: a reduction's rows are the first input's last axis; otherwise the output
 * has the first input's shape, a `row` input's size is the row length, else a `col` input's size is the row count,
 * else the whole tensor is one row. Throws on inputs that do not fit that layout (a bug in ops.ts, not a user error).
 */
function layout(k: Kernel, ins: tf.TensorInfo[]): { rows: number; d: number } {
  const n = tf.util.sizeFromShape(ins[0].shape);
  if (k.reduce !== undefined && ins[0].shape.length === 0) throw new Error(`${k.name}: a scalar has no rows`);
  const rowIn = ins.find((_, i) => k.inputs[i] === 'row');
  const colIn = ins.find((_, i) => k.inputs[i] === 'col');
  const d =
    k.reduce !== undefined
      ? ins[0].shape[ins[0].shape.length - 1]
      : rowIn !== undefined
        ? tf.util.sizeFromShape(rowIn.shape)
        : colIn !== undefined
          ? n / tf.util.sizeFromShape(colIn.shape)
          : n;
  const rows = d === 0 ? 0 : n / d;
  const want: Record<InputKind, number> = { full: n, row: d, col: rows, scalar: 1 };
  ins.forEach((t, i) => {
    if (t.dtype !== 'float32' || tf.util.sizeFromShape(t.shape) !== want[k.inputs[i]] || !Number.isInteger(rows)) {
      throw new Error(`${k.name}: input '${k.names[i]}' [${t.shape}] does not fit [${ins[0].shape}]`);
    }
  });
  return { rows, d };
}

let registered = false;
let enabled = true;

/** Turns the fused kernels off and on again: the composed ops run while off (for comparisons: tests, benchmarks). */
export function setWasmFused(on: boolean): void {
  enabled = on;
}

/**
 * AdamW's whole update of the chain's flat group (optim/chain.ts) in one kernel: for each parameter in turn,
 * RtAdamStep over its piece of the flat m and v, reading its gradient and value where they are and writing its new
 * m, v and value (the value as a tensor of its own) in one pass. The flat path's concatenations of the gradients and
 * values and the split of the result are gone; every element goes through the same operations, so the values are the
 * flat path's bit for bit.
 * Inputs m, v [total]; b1, c1, b2, c2, d1, d2, eps, lr scalars; wd absent, a scalar or [total]; g<i>, p<i> per
 * parameter (attr `count`). Outputs [m, v, p<0>, p<1>, …].
 */
const ADAM_GROUP = 'RtAdamGroup';
const adamGroupKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const ins = inputs as Record<string, tf.TensorInfo>;
  const count = (attrs as { count: number }).count;
  const fns = compiledOn(backend);
  if (fns === undefined) throw new Error(`${ADAM_GROUP}: the SIMD module does not run on this wasm heap`);
  const be = wasmBackend(backend);
  const [m, v, wd] = [ins.m, ins.v, ins.wd as tf.TensorInfo | undefined];
  const mOut = be.makeOutput(m.shape, 'float32');
  const vOut = be.makeOutput(v.shape, 'float32');
  const outs = Array.from({ length: count }, (_, i) => be.makeOutput(ins[`p${i}`].shape, 'float32'));
  const at = (t: tf.TensorInfo) => heapOffset(be, t);
  const [b1, c1, b2, c2, d1, d2, eps, lr] = ['b1', 'c1', 'b2', 'c2', 'd1', 'd2', 'eps', 'lr'].map((n) => at(ins[n]));
  const [mAt, vAt, mOutAt, vOutAt] = [m, v, mOut, vOut].map(at);
  const wdAt = wd === undefined ? 0 : at(wd);
  let off = 0;
  for (let i = 0; i < count; i++) {
    const [g, p] = [at(ins[`g${i}`]), at(ins[`p${i}`])];
    const bytes = 4 * tf.util.sizeFromShape(ins[`p${i}`].shape);
    if (4 * tf.util.sizeFromShape(ins[`g${i}`].shape) !== bytes || off + bytes > 4 * tf.util.sizeFromShape(m.shape)) {
      throw new Error(
        `${ADAM_GROUP}: gradient ${i} [${ins[`g${i}`].shape}] does not fit value [${ins[`p${i}`].shape}]`,
      );
    }
    if (bytes === 0) continue;
    const args = [mAt + off, vAt + off, g, p, b1, c1, b2, c2, d1, d2, eps, lr];
    const more = [vOutAt + off, at(outs[i])];
    if (wd === undefined) fns.RtAdamStep(mOutAt + off, 1, bytes, ...args, ...more);
    else if (wd.shape.length === 0) fns.RtAdamStepWd(mOutAt + off, 1, bytes, ...args, wdAt, ...more);
    else fns.RtAdamStepWdEach(mOutAt + off, 1, bytes, ...args, wdAt + off, ...more);
    off += bytes;
  }
  return [mOut, vOut, ...outs];
};

/**
 * A dense layer's bias add and attention's head split in one copy: x [b·l, h·dh] + bias [h·dh] → [b, h, l, dh], the
 * values of RtAddRow, reshape and transpose (perm [0, 2, 1, 3]). Inputs x, bias; attrs b, l, h (dh·4 bytes a whole
 * number of vectors: splitHeadsBias checks).
 */
const SPLIT_HEADS_BIAS = 'RtSplitHeadsBias';
const splitHeadsBiasKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, bias } = inputs as { x: tf.TensorInfo; bias: tf.TensorInfo };
  const { b, l, h } = attrs as { b: number; l: number; h: number };
  const fns = compiledOn(backend);
  if (fns === undefined) throw new Error(`${SPLIT_HEADS_BIAS}: the SIMD module does not run on this wasm heap`);
  const dh = tf.util.sizeFromShape(bias.shape) / h;
  if (tf.util.sizeFromShape(x.shape) !== b * l * h * dh || dh % 4 !== 0) {
    throw new Error(`${SPLIT_HEADS_BIAS}: x [${x.shape}], bias [${bias.shape}] do not fit [${b}, ${l}, ${h}, dh]`);
  }
  const be = wasmBackend(backend);
  const out = be.makeOutput([b, h, l, dh], 'float32');
  const swapAdd = fns[SWAP_MIDDLE_AXES_ADD] as unknown as SwapMiddleAxesAdd;
  if (b * l * h > 0) swapAdd(heapOffset(be, out), heapOffset(be, x), b, l, h, dh * 4, heapOffset(be, bias));
  return out;
};

/** Registers the kernels for the wasm backend (once). */
export function registerWasmFusedKernels(): void {
  if (registered) return;
  registered = true;
  for (const k of KERNELS) {
    tf.registerKernel({
      kernelName: k.name,
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend }) => {
        const ins = k.names.map((n) => (inputs as Record<string, tf.TensorInfo>)[n]);
        const fns = compiledOn(backend);
        if (fns === undefined) throw new Error(`${k.name}: the SIMD module does not run on this wasm heap`);
        const { rows, d } = layout(k, ins);
        const be = wasmBackend(backend);
        // A reduction keeps the reduced axis, as tf.mean(x, -1, true) and tf.sum(x, -1, true) do.
        const out = be.makeOutput(k.reduce ? [...ins[0].shape.slice(0, -1), 1] : ins[0].shape, 'float32');
        const more = (k.more ?? []).map(() => be.makeOutput(ins[0].shape, 'float32'));
        const at = (t: tf.TensorInfo) => heapOffset(be, t);
        if (rows > 0) fns[k.name](at(out), rows, d * 4, ...ins.map(at), ...more.map(at));
        return more.length === 0 ? out : [out, ...more];
      },
    });
  }
  tf.registerKernel({ kernelName: ADAM_GROUP, backendName: 'wasm', kernelFunc: adamGroupKernel });
  tf.registerKernel({ kernelName: SPLIT_HEADS_BIAS, backendName: 'wasm', kernelFunc: splitHeadsBiasKernel });
}

/**
 * Whether ops should use these kernels: the active backend is wasm, they are registered, and the SIMD module runs on
 * its heap (not on the threaded build's shared one).
 */
export function fusedWasm(): boolean {
  return registered && enabled && tf.getBackend() === 'wasm' && compiledOn(tf.backend()) !== undefined;
}

const run = (name: string, inputs: Record<string, tf.Tensor>): tf.Tensor =>
  tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap) as tf.Tensor;
const runAll = (name: string, inputs: Record<string, tf.Tensor>): tf.Tensor[] =>
  tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap) as tf.Tensor[];
type T = tf.Tensor;
export const wasmFused = {
  /** [x·s, s]: GELU's value and the sigmoid its gradient needs. */
  gelu: (x: T): [T, T] => runAll('RtGelu', { x }) as [T, T],
  geluGradPost: (dy: T, x: T, s: T): T => run('RtGeluGradPost', { dy, x, s }),
  rowMean: (x: T): T => run('RtRowMean', { x }),
  lnVariance: (x: T, m: T): T => run('RtLnVariance', { x, m }),
  lnForward: (x: T, m: T, inv: T, scale: T, bias: T): T => run('RtLnForward', { x, m, inv, scale, bias }),
  lnXhatTimes: (dy: T, x: T, m: T, inv: T): T => run('RtLnXhatTimes', { dy, x, m, inv }),
  lnMeanG: (dy: T, scale: T): T => run('RtLnMeanG', { dy, scale }),
  lnMeanGXhat: (dy: T, scale: T, x: T, m: T, inv: T): T => run('RtLnMeanGXhat', { dy, scale, x, m, inv }),
  lnGradX: (dy: T, scale: T, mg: T, x: T, m: T, inv: T, mgx: T): T =>
    run('RtLnGradX', { dy, scale, mg, x, m, inv, mgx }),
  /** s·c + bias; bias of one value, or [.., L, S] with L·S the last two axes of s (the same under every [B, H]). */
  scores: (s: T, c: T, bias: T): T => run(bias.size === 1 ? 'RtScoresScalarBias' : 'RtScores', { s, c, bias }),
  softmaxGradR: (dp: T, p: T): T => run('RtSoftmaxGradR', { dp, p }),
  softmaxGradDs: (p: T, dp: T, r: T): T => run('RtSoftmaxGradDs', { p, dp, r }),
  addRow: (x: T, bias: T): T => run('RtAddRow', { x, bias }),
  /** x [b·l, h·dh] + bias → [b, h, l, dh]; undefined where dh is not a multiple of 4 (the caller composes). */
  splitHeadsBias: (x: T, bias: T, b: number, l: number, h: number): T | undefined =>
    (bias.size / h) % 4 === 0
      ? (tf.engine().runKernel(SPLIT_HEADS_BIAS, { x, bias } as unknown as tf.NamedTensorMap, { b, l, h }) as T)
      : undefined,
  adamM: (m: T, g: T, b1: T, c1: T): T => run('RtAdamM', { m, g, b1, c1 }),
  adamV: (v: T, g: T, b2: T, c2: T): T => run('RtAdamV', { v, g, b2, c2 }),
  adamU: (m: T, v: T, d1: T, d2: T, eps: T): T => run('RtAdamU', { m, v, d1, d2, eps }),
  adafactorV: (v: T, g: T, b2: T, c2: T, eps: T): T => run('RtAfV', { v, g, b2, c2, eps }),
  adafactorM: (m: T, g: T, v: T, mu: T, c: T): T => run('RtAfM', { m, g, v, mu, c }),
  /**
   * AdamW's step of the flat group (RtAdamGroup above): new m, v and one new value per parameter. The scalars are
   * adamM's, adamV's and adamU's, then the step's lr and wd (absent, a scalar or one value per element).
   */
  adamGroup: (
    m: T,
    v: T,
    grads: readonly T[],
    values: readonly T[],
    s: { b1: T; c1: T; b2: T; c2: T; d1: T; d2: T; eps: T; lr: T; wd?: T },
  ): { m: T; v: T; values: T[] } => {
    if (grads.length !== values.length)
      throw new Error(`${ADAM_GROUP}: ${grads.length} gradients, ${values.length} values`);
    const inputs: Record<string, T> = { m, v, ...s };
    grads.forEach((g, i) => (inputs[`g${i}`] = g));
    values.forEach((p, i) => (inputs[`p${i}`] = p));
    const [mOut, vOut, ...out] = tf
      .engine()
      .runKernel(ADAM_GROUP, inputs as unknown as tf.NamedTensorMap, { count: grads.length }) as T[];
    return { m: mOut, v: vOut, values: out };
  },
  /** θ − u·lr, or θ − (u·lr + θ·wd) with a weight decay (a scalar or one value per element); lr a scalar. */
  step: (theta: T, u: T, lr: T, wd?: T): T =>
    wd === undefined
      ? run('RtStep', { theta, u, lr })
      : run(wd.rank === 0 ? 'RtStepWd' : 'RtStepWdEach', { theta, u, lr, wd }),
};
