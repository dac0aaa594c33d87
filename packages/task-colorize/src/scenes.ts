/**
 * Built-in colorization data: deterministic colour scenes whose hue cannot be read from the grey image, so that the
 * colour of a region is ambiguous given the input and a guiding code has something to carry.
 *
 * A scene is a luma-textured background plus 2–4 shapes of three classes (disc, square, triangle), later shapes on
 * top. Every region draws, independently:
 * - a luma Y ~ U(0.35, 0.65) (BT.601 luma of [0, 1] RGB with the weights of `grayscale.ts`), which the grey input
 *   shows, plus luma-only texture (a grating and pixel noise on the background, light noise on the shapes); a
 *   shape's Y is redrawn until it differs from the background's by ≥ 0.08, so that it shows in the grey image;
 * - a colour mode, independent of Y: exactly grey (chroma 0) with probability 0.5, else one of the two vivid hues
 *   of its class (PALETTES), each with probability 0.25. Grey is thus ONE mode and the most probable one: a model
 *   that picks the single most likely colour per region paints grey, which is the dull picture MLE greedy decoding
 *   should give; the vivid modes exist and are learnable only as class → palette.
 * A vivid hue is a direction in a (Cb, Cr) chroma plane built on the same luma weights: chroma (cb, cr) adds
 *   ΔR = 2(1 − w_R)·cr,  ΔB = 2(1 − w_B)·cb,  ΔG = −(w_R ΔR + w_B ΔB)/w_G
 * to the grey level g = Y / (w_R + w_G + w_B), so the luma stays exactly Y; the radius (default 0.22) is shrunk
 * along the same direction until the region's whole luma range fits in the RGB cube. The hue of each named colour
 * is the direction of its reference RGB (pure red, …) in that plane.
 *
 * Output: RGB in [−1, 1] ([H, W, 3] Float32Array, big_vision's range) and the model's input, the grey image
 * (luma repeated ×3, `toGrayRgb`). Splits train / val / test are disjoint streams of one seed: scene i of a split is
 * generated from its own generator, a bijective function of (seed, split, i), so it is the same whatever the
 * dataset size and no two scenes of one seed share a generator.
 */
import { Rng } from '@reward-tune/core-model';
import { LUMA, toGrayRgb } from './grayscale';

export const COLOUR_SPLITS = ['train', 'val', 'test'] as const;
export type ColourSplit = (typeof COLOUR_SPLITS)[number];

export const SHAPE_CLASSES = ['disc', 'square', 'triangle'] as const;
export type ShapeClass = (typeof SHAPE_CLASSES)[number];
export type RegionClass = 'background' | ShapeClass;

/** The vivid hues, each named by the reference colour (RGB in [0, 1]) whose chroma direction it takes. */
export const HUES = {
  red: [1, 0, 0],
  green: [0, 1, 0],
  blue: [0, 0, 1],
  yellow: [1, 1, 0],
  magenta: [1, 0, 1],
  cyan: [0, 1, 1],
  violet: [0.5, 0, 1],
  lime: [0.5, 1, 0],
} as const satisfies Record<string, readonly [number, number, number]>;
export type HueName = keyof typeof HUES;
export const HUE_NAMES = Object.keys(HUES) as HueName[];

/** Each class's two vivid hues (the grey mode is shared by all). */
export const PALETTES: Readonly<Record<RegionClass, readonly [HueName, HueName]>> = {
  background: ['violet', 'lime'],
  disc: ['red', 'green'],
  square: ['blue', 'yellow'],
  triangle: ['magenta', 'cyan'],
};

export interface ColourSceneOptions {
  /** Square image side in pixels (default 64). */
  readonly size?: number;
  /** Shapes per scene, uniform in [minShapes, maxShapes] (defaults 2 and 4). */
  readonly minShapes?: number;
  readonly maxShapes?: number;
  /** Probability that a region is exactly grey (default 0.5). */
  readonly greyProbability?: number;
  /** Radius of a vivid hue in the (Cb, Cr) plane before the gamut shrink (default 0.22; Cb, Cr ∈ [−0.5, 0.5]). */
  readonly chroma?: number;
  /** Range of a region's luma Y (default [0.35, 0.65]). */
  readonly lumaRange?: readonly [number, number];
  /** Amplitude of the background's luma texture (default 0.08): half grating, half pixel noise. */
  readonly texture?: number;
  /** Amplitude of the shapes' luma pixel noise (default 0.02). */
  readonly shapeNoise?: number;
  /** Least luma difference between a shape and the background, so that every shape shows in the grey image
   *  (default 0.08; a shape's luma is redrawn until it holds, which keeps it independent of the hue). */
  readonly minContrast?: number;
}

export const COLOUR_SCENE_DEFAULTS: Required<ColourSceneOptions> = {
  size: 64,
  minShapes: 2,
  maxShapes: 4,
  greyProbability: 0.5,
  chroma: 0.22,
  lumaRange: [0.35, 0.65],
  texture: 0.08,
  shapeNoise: 0.02,
  minContrast: 0.08,
};

export interface SceneRegion {
  readonly cls: RegionClass;
  /** The region's base luma Y in [0, 1] (texture varies it by at most ± the amplitude). */
  readonly luma: number;
  /** 'grey' (chroma exactly 0) or the vivid hue drawn from the class's palette. */
  readonly hue: 'grey' | HueName;
  /** The chroma radius after the gamut shrink (0 for grey). */
  readonly chroma: number;
  /** Visible pixels. */
  readonly area: number;
}

export interface ColourScene {
  readonly size: number;
  /** [H, W, 3] colour image in [−1, 1]: the target. */
  readonly rgb: Float32Array;
  /** [H, W, 3] grey image in [−1, 1], luma repeated ×3: the model's input. */
  readonly grey: Float32Array;
  /** [H·W] index into `regions` of the region each pixel shows (0 = background). */
  readonly owner: Uint8Array;
  /** Background first, then the shapes in drawing order. */
  readonly regions: readonly SceneRegion[];
}

const LUMA_SUM = LUMA[0] + LUMA[1] + LUMA[2];

/** The RGB offset of chroma (cb, cr): luma-neutral by construction (Σ w·Δ = 0). */
export function chromaOffset(cb: number, cr: number): [number, number, number] {
  const dr = 2 * (1 - LUMA[0]) * cr;
  const db = 2 * (1 - LUMA[2]) * cb;
  return [dr, -(LUMA[0] * dr + LUMA[2] * db) / LUMA[1], db];
}

/** The (cb, cr) chroma of an RGB colour in [0, 1]: the inverse of `chromaOffset` applied to its offset from grey. */
export function chromaOf(r: number, g: number, b: number): [number, number] {
  const grey = (LUMA[0] * r + LUMA[1] * g + LUMA[2] * b) / LUMA_SUM;
  return [(b - grey) / (2 * (1 - LUMA[2])), (r - grey) / (2 * (1 - LUMA[0]))];
}

/** Hue angle (radians, atan2(cr, cb)) of each named hue. */
export const HUE_ANGLES: Readonly<Record<HueName, number>> = Object.fromEntries(
  HUE_NAMES.map((h) => {
    const [r, g, b] = HUES[h];
    const [cb, cr] = chromaOf(r, g, b);
    return [h, Math.atan2(cr, cb)];
  }),
) as Record<HueName, number>;

interface Shape {
  cls: ShapeClass;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

function inside(s: Shape, px: number, py: number): boolean {
  if (px < s.x0 || px >= s.x1 || py < s.y0 || py >= s.y1) return false;
  const cx = (s.x0 + s.x1) / 2,
    cy = (s.y0 + s.y1) / 2;
  const rx = (s.x1 - s.x0) / 2,
    ry = (s.y1 - s.y0) / 2;
  switch (s.cls) {
    case 'square':
      return true;
    case 'disc':
      return ((px - cx) / rx) ** 2 + ((py - cy) / ry) ** 2 <= 1;
    case 'triangle':
      // Apex at the top centre, base along the bottom edge.
      return Math.abs(px - cx) <= (rx * (py - s.y0)) / (s.y1 - s.y0);
  }
}

/** Overlap of two boxes as a fraction of the smaller one. */
function overlap(a: Shape, b: Shape): number {
  const w = Math.max(0, Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0));
  const h = Math.max(0, Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0));
  return (w * h) / Math.min((a.x1 - a.x0) * (a.y1 - a.y0), (b.x1 - b.x0) * (b.y1 - b.y0));
}

function resolveOptions(opts: ColourSceneOptions): Required<ColourSceneOptions> {
  const o = { ...COLOUR_SCENE_DEFAULTS };
  for (const [k, v] of Object.entries(opts)) if (v !== undefined) (o as Record<string, unknown>)[k] = v;
  const bad = (what: string): never => {
    throw new RangeError(`colour scenes: ${what}`);
  };
  if (!(Number.isInteger(o.size) && o.size >= 8 && o.size <= 4096))
    bad(`size must be an integer in [8, 4096], got ${o.size}`);
  if (!(
    Number.isInteger(o.minShapes) &&
    o.minShapes >= 0 &&
    Number.isInteger(o.maxShapes) &&
    o.maxShapes >= o.minShapes &&
    o.maxShapes <= 254
  )) {
    bad(`shape counts must be integers 0 ≤ minShapes ≤ maxShapes ≤ 254, got ${o.minShapes}..${o.maxShapes}`);
  }
  if (!(o.greyProbability >= 0 && o.greyProbability <= 1))
    bad(`greyProbability must be in [0, 1], got ${o.greyProbability}`);
  if (!(o.chroma >= 0 && o.chroma <= 0.5)) bad(`chroma must be in [0, 0.5], got ${o.chroma}`);
  const [lo, hi] = o.lumaRange;
  if (!(lo >= 0 && hi >= lo && hi <= 1)) bad(`lumaRange must satisfy 0 ≤ lo ≤ hi ≤ 1, got [${lo}, ${hi}]`);
  if (!(o.texture >= 0 && o.shapeNoise >= 0)) bad('texture and shapeNoise must be ≥ 0');
  if (!(o.minContrast === 0 || (o.minContrast > 0 && 2 * o.minContrast < hi - lo))) {
    bad(`minContrast must be 0 or in (0, (hi − lo)/2), got ${o.minContrast}`);
  }
  return o;
}

/**
 * The largest t ∈ [0, 1] with g + t·d inside [0, 1]³ for every grey level g in [gMin, gMax] (the constraint is
 * linear in g, so the two ends suffice).
 */
function gamutScale(d: readonly number[], gMin: number, gMax: number): number {
  let t = 1;
  for (const dk of d) {
    if (dk > 0) t = Math.min(t, (1 - gMax) / dk);
    else if (dk < 0) t = Math.min(t, gMin / -dk);
  }
  return Math.max(0, t);
}

/** Generates one scene; `rng` advances deterministically. */
export function generateColourScene(rng: Rng, options: ColourSceneOptions = {}): ColourScene {
  const o = resolveOptions(options);
  const S = o.size;

  // Shapes: class, box (side 25–50% of the image, aspect jitter), at most half of a box under another one.
  const count = o.minShapes + rng.int(o.maxShapes - o.minShapes + 1);
  const shapes: Shape[] = [];
  for (let attempt = 0; shapes.length < count && attempt < 20 * count; attempt++) {
    const cls = SHAPE_CLASSES[rng.int(SHAPE_CLASSES.length)];
    const side = S * (0.25 + 0.25 * rng.next());
    const aspect = 0.75 + 0.5 * rng.next();
    const w = side * Math.sqrt(aspect),
      h = side / Math.sqrt(aspect);
    const x0 = rng.next() * (S - w),
      y0 = rng.next() * (S - h);
    const s: Shape = { cls, x0, y0, x1: x0 + w, y1: y0 + h };
    if (shapes.some((p) => overlap(s, p) > 0.5)) continue;
    shapes.push(s);
  }

  const owner = new Uint8Array(S * S);
  shapes.forEach((s, k) => {
    for (let py = Math.max(0, Math.floor(s.y0)); py < Math.min(S, Math.ceil(s.y1)); py++) {
      for (let px = Math.max(0, Math.floor(s.x0)); px < Math.min(S, Math.ceil(s.x1)); px++) {
        if (inside(s, px + 0.5, py + 0.5)) owner[py * S + px] = k + 1;
      }
    }
  });

  // Colours: per region a luma, then (independently) grey or one of the class's two hues.
  const classes: RegionClass[] = ['background', ...shapes.map((s) => s.cls)];
  const [lumaLo, lumaHi] = o.lumaRange;
  const drawLuma = (): number => lumaLo + (lumaHi - lumaLo) * rng.next();
  let backgroundLuma = 0;
  const regionColour = classes.map((cls, k) => {
    let luma = drawLuma();
    if (k === 0) {
      backgroundLuma = luma;
    } else {
      // Rejection keeps Y uniform over the allowed part of the range (never empty: 2·minContrast < hi − lo).
      while (Math.abs(luma - backgroundLuma) < o.minContrast) luma = drawLuma();
    }
    const grey = rng.next() < o.greyProbability;
    const hue: 'grey' | HueName = grey ? 'grey' : PALETTES[cls][rng.int(2)];
    const amp = k === 0 ? o.texture : o.shapeNoise;
    let offset: [number, number, number] = [0, 0, 0];
    let chroma = 0;
    if (hue !== 'grey') {
      const a = HUE_ANGLES[hue];
      const d = chromaOffset(o.chroma * Math.cos(a), o.chroma * Math.sin(a));
      const t = gamutScale(d, Math.max(0, luma - amp) / LUMA_SUM, Math.min(1, luma + amp) / LUMA_SUM);
      offset = [t * d[0], t * d[1], t * d[2]];
      chroma = t * o.chroma;
    }
    return { cls, luma, hue, chroma, amp, offset };
  });

  // Background texture: a grating of random orientation, frequency and phase, plus uniform pixel noise.
  const angle = rng.next() * Math.PI;
  const freq = (2 + 4 * rng.next()) / S;
  const phase = rng.next() * 2 * Math.PI;
  const fx = Math.cos(angle) * freq * 2 * Math.PI,
    fy = Math.sin(angle) * freq * 2 * Math.PI;

  const rgb = new Float32Array(S * S * 3);
  const area = new Array<number>(classes.length).fill(0);
  for (let py = 0; py < S; py++) {
    for (let px = 0; px < S; px++) {
      const p = py * S + px;
      const k = owner[p];
      area[k]++;
      const c = regionColour[k];
      const noise = 2 * rng.next() - 1;
      const wiggle = k === 0 ? 0.5 * Math.sin(fx * px + fy * py + phase) + 0.5 * noise : noise;
      const y = Math.min(1, Math.max(0, c.luma + c.amp * wiggle));
      const g = y / LUMA_SUM;
      for (let ch = 0; ch < 3; ch++) {
        const v = Math.min(1, Math.max(0, g + c.offset[ch]));
        rgb[3 * p + ch] = 2 * v - 1;
      }
    }
  }
  const regions: SceneRegion[] = regionColour.map((c, k) => ({
    cls: c.cls,
    luma: c.luma,
    hue: c.hue,
    chroma: c.chroma,
    area: area[k],
  }));
  return { size: S, rgb, grey: toGrayRgb(rgb), owner, regions };
}

const SPLIT_STREAM: Readonly<Record<ColourSplit, number>> = { train: 0, val: 1, test: 2 };
/** Largest scene index per split: (stream, index) packs into 32 bits as stream·2³⁰ + index. */
export const MAX_SCENES_PER_SPLIT = 2 ** 30;

/** A 32-bit bijection (xorshift-multiply rounds, each invertible). */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * The generator seed of scene `index` of `split`: for a fixed dataset seed a bijection of (split, index), so the
 * three splits never share a generator.
 */
export function colourSceneSeed(seed: number, split: ColourSplit, index: number): number {
  if (!(Number.isInteger(index) && index >= 0 && index < MAX_SCENES_PER_SPLIT)) {
    throw new RangeError(`scene index must be an integer in [0, 2^30), got ${index}`);
  }
  const key = (SPLIT_STREAM[split] * MAX_SCENES_PER_SPLIT + index) >>> 0;
  return mix32((key ^ mix32((seed >>> 0) ^ 0x5bd1e995)) >>> 0);
}

/** Scene `index` of a split (random access: the same scene whatever else is generated). */
export function colourSceneAt(
  seed: number,
  split: ColourSplit,
  index: number,
  options: ColourSceneOptions = {},
): ColourScene {
  return generateColourScene(Rng.fromSeed(colourSceneSeed(seed, split, index)), options);
}

/** Scenes `start`, `start + 1`, … of a split (`count` of them). */
export function* colourScenes(
  seed: number,
  split: ColourSplit,
  count: number,
  options: ColourSceneOptions = {},
  start = 0,
): Generator<ColourScene> {
  for (let i = 0; i < count; i++) yield colourSceneAt(seed, split, start + i, options);
}

/** Per-pixel colour label: −1 for grey, else the index in HUE_NAMES of the pixel's region hue. */
export function hueLabels(scene: ColourScene): Int8Array {
  const byRegion = scene.regions.map((r) => (r.hue === 'grey' ? -1 : HUE_NAMES.indexOf(r.hue)));
  return Int8Array.from(scene.owner, (k) => byRegion[k]);
}
