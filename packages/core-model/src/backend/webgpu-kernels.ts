/**
 * Fused WebGPU kernels for the Transformer's elementwise and per-row work. A GPU training step is bound by the
 * number of kernels it launches (each costs tens of µs of CPU in tfjs and Dawn, far more than the GPU needs for
 * these shapes), and composed from tfjs ops a layer norm is 9 kernels forward and ~10 backward, a tanh-GELU 7 and
 * 12, attention's scale-mask-softmax 3 and its gradient 7. Here each is one kernel, written in WGSL and run
 * through tfjs-backend-webgpu's own program path (its shader preamble, pipeline cache and uniforms), registered as
 * tfjs kernels of the `webgpu` backend only; model/ops.ts uses them when that backend is active and the composed ops
 * elsewhere. webgpu-parity.spec.ts checks each against the composed ops on the cpu backend, values and gradients.
 *
 * Kernels (N rows of width D; every input float32 and contiguous):
 *   RtLayerNorm          x [N, D], scale [D], bias [D] → (x − μ)/σ · scale + bias          (σ = √(var + ε))
 *   RtLayerNormGradX     dy [N, D], x [N, D], scale [D] → dx = (g − mean(g) − x̂·mean(g·x̂))/σ, g = dy·scale
 *   RtLayerNormDyXhat    dy [N, D], x [N, D] → dy·x̂ (whose column sums are dscale)
 *   RtGelu               x → x·σ(2z), z = √(2/π)(x + 0.044715x³)  (= 0.5x(1 + tanh z))
 *   RtGeluGrad           dy, x → dy·(s + x·s(1 − s)·2√(2/π)(1 + 3·0.044715x²)), s = σ(2z)
 *   RtScaledSoftmax      s [B, H, L, S], optional bias (rank 4, broadcast) → softmax(c·s + bias) over S
 *   RtSoftmaxGrad        p, dp [B, H, L, S] → c·p·(dp − Σ dp·p): attention's dS with its 1/√Dh folded in
 * The per-row kernels run one 64-lane workgroup per row and recompute μ and σ from x (cheap at these widths)
 * rather than saving them.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The program fields tfjs-backend-webgpu 4.22 reads (webgpu_program.ts); the shader preamble comes from tfjs. */
interface Program {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  workgroupSize: [number, number, number];
  size: boolean;
  getUserCode(): string;
}

interface WebgpuRunner {
  runWebGPUProgram(program: Program, inputs: tf.TensorInfo[], dtype: tf.DataType): tf.TensorInfo;
}

/** Layer norm's ε (flax's) and tanh-GELU's constants, shared with the composed ops in model/ops.ts. */
export const LN_EPS = 1e-6;
export const GELU_A = 0.044715;
export const GELU_C = 2 * Math.sqrt(2 / Math.PI);
const LANES = 64;
const MAX_DISPATCH = 65535;

/** One thread per element: index < uniforms.size. */
function elementwise(key: string, names: string[], shape: number[], body: string): Program {
  const n = tf.util.sizeFromShape(shape);
  const groups = Math.ceil(n / LANES);
  return {
    outputShape: shape,
    shaderKey: key,
    dispatchLayout: { x: shape.map((_, i) => i) },
    // tfjs reshapes a dispatch over the per-dimension limit itself (and getGlobalIndex follows).
    dispatch: [groups, 1, 1],
    variableNames: names,
    workgroupSize: [LANES, 1, 1],
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`,
  };
}

/**
 * One workgroup per row (the last axis) of the first input, of rank 2 ([N, D]) or 4 ([B, H, L, D], N = B·H·L);
 * `rowSum`/`rowMax` reduce over the row for all lanes. Rows past N (a dispatch split in two dimensions) compute
 * nothing but still reach every barrier, as WGSL requires.
 */
function perRow(key: string, names: string[], shape: number[], body: string): Program {
  if (shape.length !== 2 && shape.length !== 4) throw new Error(`${key}: expected rank 2 or 4, got [${shape}]`);
  const rows = tf.util.sizeFromShape(shape.slice(0, -1));
  const sh = `uniforms.${names[0]}Shape`;
  const [nExpr, dExpr] = shape.length === 2 ? [`${sh}.x`, `${sh}.y`] : [`${sh}.x * ${sh}.y * ${sh}.z`, `${sh}.w`];
  const dispatch: [number, number, number] =
    rows <= MAX_DISPATCH ? [rows, 1, 1] : [MAX_DISPATCH, Math.ceil(rows / MAX_DISPATCH), 1];
  return {
    outputShape: shape,
    shaderKey: key,
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch,
    variableNames: names,
    workgroupSize: [LANES, 1, 1],
    size: false,
    getUserCode: () => `
      var<workgroup> red : array<f32, ${LANES}>;

      // Sum of every lane's value, returned to all lanes.
      fn rowSum(v : f32) -> f32 {
        let lane = localId.x;
        red[lane] = v;
        workgroupBarrier();
        for (var k = ${LANES / 2}u; k > 0u; k = k >> 1u) {
          if (lane < k) { red[lane] = red[lane] + red[lane + k]; }
          workgroupBarrier();
        }
        let s = red[0];
        workgroupBarrier();
        return s;
      }

      // Maximum of every lane's value, returned to all lanes.
      fn rowMax(v : f32) -> f32 {
        let lane = localId.x;
        red[lane] = v;
        workgroupBarrier();
        for (var k = ${LANES / 2}u; k > 0u; k = k >> 1u) {
          if (lane < k) { red[lane] = max(red[lane], red[lane + k]); }
          workgroupBarrier();
        }
        let s = red[0];
        workgroupBarrier();
        return s;
      }

      fn main(index : i32) {
        let n = ${nExpr};
        let d = ${dExpr};
        let row = i32(workgroupId.y * numWorkgroups.x + workgroupId.x);
        let valid = row < n;
        let base = row * d;
        let lane = i32(localId.x);
        ${body}
      }`,
  };
}

/** μ and 1/σ of the row of X at `base` (every lane gets both). */
const ROW_STATS = (x: string) => `
        var s = 0.0;
        if (valid) { for (var j = lane; j < d; j = j + ${LANES}) { s = s + ${x}[base + j]; } }
        let mu = rowSum(s) / f32(d);
        var v = 0.0;
        if (valid) { for (var j = lane; j < d; j = j + ${LANES}) { let c = ${x}[base + j] - mu; v = v + c * c; } }
        let inv = inverseSqrt(rowSum(v) / f32(d) + ${LN_EPS});`;

const S_OF_X = (x: string) => `1.0 / (1.0 + exp(-${GELU_C} * (${x} + ${GELU_A} * ${x} * ${x} * ${x})))`;

type Inputs = Record<string, tf.TensorInfo>;

function kernel(
  name: string,
  names: string[],
  make: (inputs: tf.TensorInfo[], attrs: Record<string, unknown>) => Program,
): tf.KernelConfig {
  return {
    kernelName: name,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const ins = names.map((k) => (inputs as Inputs)[k]).filter((t) => t !== undefined);
      for (const t of ins) {
        if (t.dtype !== 'float32') throw new Error(`${name}: input '${t.dtype}' is not float32`);
      }
      return (backend as unknown as WebgpuRunner).runWebGPUProgram(
        make(ins, (attrs ?? {}) as Record<string, unknown>),
        ins,
        'float32',
      );
    },
  };
}

const rows = (t: tf.TensorInfo): [number, number] => {
  if (t.shape.length !== 2) throw new Error(`expected a rank-2 [N, D] input, got [${t.shape}]`);
  return [t.shape[0], t.shape[1]];
};

const KERNELS: tf.KernelConfig[] = [
  kernel('RtLayerNorm', ['x', 'scale', 'bias'], ([x]) =>
    perRow(
      'rtLayerNorm',
      ['lnX', 'lnScale', 'lnBias'],
      rows(x),
      `${ROW_STATS('lnX')}
        if (valid) {
          for (var j = lane; j < d; j = j + ${LANES}) {
            result[base + j] = (lnX[base + j] - mu) * inv * lnScale[j] + lnBias[j];
          }
        }`,
    ),
  ),
  kernel('RtLayerNormGradX', ['dy', 'x', 'scale'], ([dy]) =>
    perRow(
      'rtLayerNormGradX',
      ['lnDy', 'lnX', 'lnScale'],
      rows(dy),
      `${ROW_STATS('lnX')}
        var sg = 0.0;
        var sgx = 0.0;
        if (valid) {
          for (var j = lane; j < d; j = j + ${LANES}) {
            let g = lnDy[base + j] * lnScale[j];
            sg = sg + g;
            sgx = sgx + g * (lnX[base + j] - mu) * inv;
          }
        }
        let mg = rowSum(sg) / f32(d);
        let mgx = rowSum(sgx) / f32(d);
        if (valid) {
          for (var j = lane; j < d; j = j + ${LANES}) {
            let g = lnDy[base + j] * lnScale[j];
            result[base + j] = (g - mg - (lnX[base + j] - mu) * inv * mgx) * inv;
          }
        }`,
    ),
  ),
  kernel('RtLayerNormDyXhat', ['dy', 'x'], ([dy]) =>
    perRow(
      'rtLayerNormDyXhat',
      ['lnDy', 'lnX'],
      rows(dy),
      `${ROW_STATS('lnX')}
        if (valid) {
          for (var j = lane; j < d; j = j + ${LANES}) {
            result[base + j] = lnDy[base + j] * (lnX[base + j] - mu) * inv;
          }
        }`,
    ),
  ),
  kernel('RtGelu', ['x'], ([x]) =>
    elementwise(
      'rtGelu',
      ['geluX'],
      x.shape,
      `
          let v = geluX[index];
          result[index] = v * ${S_OF_X('v')};`,
    ),
  ),
  kernel('RtGeluGrad', ['dy', 'x'], ([dy]) =>
    elementwise(
      'rtGeluGrad',
      ['geluDy', 'geluX'],
      dy.shape,
      `
          let v = geluX[index];
          let s = ${S_OF_X('v')};
          let dz2 = ${GELU_C} * (1.0 + ${3 * GELU_A} * v * v);
          result[index] = geluDy[index] * (s + v * s * (1.0 - s) * dz2);`,
    ),
  ),
  kernel('RtScaledSoftmax', ['s', 'bias'], ([sc, bias], { scale }) => {
    if (sc.shape.length !== 4 || (bias !== undefined && bias.shape.length !== 4)) {
      throw new Error(`RtScaledSoftmax: expected rank-4 scores and bias, got [${sc.shape}] and [${bias?.shape}]`);
    }
    const c = Number(scale);
    // The bias broadcasts over any of its axes of size 1 (a causal mask [1, 1, L, S], a padding mask [B, 1, 1, S]).
    const biasTerm = bias === undefined ? '' : ` + attBias[bbase + select(j, 0, bs.w == 1)]`;
    const biasBase =
      bias === undefined
        ? ''
        : `
        let ss = uniforms.attSShape;
        let bs = uniforms.attBiasShape;
        let bl = select(row % ss.z, 0, bs.z == 1);
        let bh = select((row / ss.z) % ss.y, 0, bs.y == 1);
        let bb = select(row / (ss.z * ss.y), 0, bs.x == 1);
        let bbase = ((bb * bs.y + bh) * bs.z + bl) * bs.w;`;
    const names = bias === undefined ? ['attS'] : ['attS', 'attBias'];
    return perRow(
      `rtScaledSoftmax_${c}_${bias !== undefined}`,
      names,
      sc.shape,
      `${biasBase}
        var m = -3.4e38;
        if (valid) { for (var j = lane; j < d; j = j + ${LANES}) { m = max(m, ${c} * attS[base + j]${biasTerm}); } }
        let mx = rowMax(m);
        var z = 0.0;
        if (valid) { for (var j = lane; j < d; j = j + ${LANES}) { z = z + exp(${c} * attS[base + j]${biasTerm} - mx); } }
        let total = rowSum(z);
        if (valid) {
          for (var j = lane; j < d; j = j + ${LANES}) {
            result[base + j] = exp(${c} * attS[base + j]${biasTerm} - mx) / total;
          }
        }`,
    );
  }),
  kernel('RtSoftmaxGrad', ['p', 'dp'], ([p], { scale }) => {
    const c = Number(scale);
    return perRow(
      `rtSoftmaxGrad_${c}`,
      ['smP', 'smDp'],
      p.shape,
      `
        var t = 0.0;
        if (valid) { for (var j = lane; j < d; j = j + ${LANES}) { t = t + smDp[base + j] * smP[base + j]; } }
        let dot = rowSum(t);
        if (valid) {
          for (var j = lane; j < d; j = j + ${LANES}) {
            result[base + j] = ${c} * smP[base + j] * (smDp[base + j] - dot);
          }
        }`,
    );
  }),
];

let registered = false;

/** Registers the kernels above for the webgpu backend (once). */
export function registerWebgpuKernels(): void {
  if (registered) return;
  for (const k of KERNELS) tf.registerKernel(k);
  registered = true;
}

/** Unregisters them (REWARD_TUNE_WEBGPU_PATCHES=0: ops fall back to the composed ones). */
export function unregisterWebgpuKernels(): void {
  if (!registered) return;
  for (const k of KERNELS) tf.unregisterKernel(k.kernelName, 'webgpu');
  registered = false;
}

/** Whether ops should use the fused kernels: the active backend is webgpu and they are registered. */
export function fusedWebgpu(): boolean {
  return registered && tf.getBackend() === 'webgpu';
}

const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: tf.NamedAttrMap = {}): tf.Tensor =>
  tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs) as tf.Tensor;

export const fusedLayerNorm = (x: tf.Tensor, scale: tf.Tensor, bias: tf.Tensor): tf.Tensor =>
  run('RtLayerNorm', { x, scale, bias });
export const fusedLayerNormGradX = (dy: tf.Tensor, x: tf.Tensor, scale: tf.Tensor): tf.Tensor =>
  run('RtLayerNormGradX', { dy, x, scale });
export const fusedLayerNormDyXhat = (dy: tf.Tensor, x: tf.Tensor): tf.Tensor => run('RtLayerNormDyXhat', { dy, x });
export const fusedGelu = (x: tf.Tensor): tf.Tensor => run('RtGelu', { x });
export const fusedGeluGrad = (dy: tf.Tensor, x: tf.Tensor): tf.Tensor => run('RtGeluGrad', { dy, x });
/** softmax(scale·s + bias) over the last axis of s [B, H, L, S]; bias (optional) rank 4, broadcast. */
export const fusedScaledSoftmax = (s: tf.Tensor, scale: number, bias?: tf.Tensor): tf.Tensor =>
  run('RtScaledSoftmax', bias === undefined ? { s } : { s, bias }, { scale });
/** scale·p·(dp − rowsum(dp·p)): the gradient through softmax(scale·s) with respect to s. */
export const fusedSoftmaxGrad = (p: tf.Tensor, dp: tf.Tensor, scale: number): tf.Tensor =>
  run('RtSoftmaxGrad', { p, dp }, { scale });
