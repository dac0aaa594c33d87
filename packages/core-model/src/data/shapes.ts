/**
 * Synthetic "shapes" scenes: deterministic images of coloured shapes with the objects they show, the built-in data
 * of the task packages (detection annotates the boxes, captioning describes the scene), so every recipe runs with
 * no download.
 *
 * What makes it more than a toy: shape × colour classes (the class needs both cues),
 * 1–8 objects per image with a geometric count distribution, sizes over a 4× range, objects partly occluding one
 * another (boxes and areas come from the visible pixels, as COCO's do), clutter strokes that are not objects,
 * per-object colour jitter, a noisy background, and a long-tailed (Zipf) class distribution like COCO's, where the
 * commonest class is ~35% of instances.
 */
import { Rng } from '../rng';

export const SHAPES = ['square', 'circle', 'triangle'] as const;
export const COLOURS = { red: [220, 40, 40], green: [40, 180, 60], blue: [50, 80, 230] } as const;

/**
 * How hard the scenes are, beyond size and object count. The defaults are the full generator; easier settings (no
 * clutter, no overlap, larger objects) approach the scenes of the toy calibration run
 * (docs/experiments/toy-detection-calibration.md).
 * Defaults draw exactly the random numbers they always did, so existing datasets stay byte-identical.
 */
export interface SceneOptions {
  /** Thin strokes that are not objects (default true). */
  readonly clutter?: boolean;
  /** Largest overlap of two objects' boxes, as a fraction of the smaller box (default 0.4; 0 = none). */
  readonly maxOverlap?: number;
  /** Object side as a fraction of the image: sideMin + sideRange · U(0, 1) (defaults 0.12 and 0.33). */
  readonly sideMin?: number;
  readonly sideRange?: number;
}

/** The full generator's scene: what every option above defaults to. */
export const SCENE_DEFAULTS: Required<SceneOptions> = {
  clutter: true,
  maxOverlap: 0.4,
  sideMin: 0.12,
  sideRange: 0.33,
};

export interface ShapesOptions extends SceneOptions {
  readonly seed: number;
  readonly numImages: number;
  /** Square image side in pixels. */
  readonly size: number;
  readonly maxObjects?: number;
}

export interface ShapeCategory {
  readonly id: number;
  readonly name: string;
}

export interface ShapeObject {
  readonly categoryId: number;
  readonly shape: (typeof SHAPES)[number];
  readonly colour: keyof typeof COLOURS;
  /** COCO bbox [x, y, w, h] in pixels, tight around the visible pixels. */
  readonly bbox: readonly [number, number, number, number];
  /** Visible pixel count. */
  readonly area: number;
}

export interface ShapeImage {
  readonly width: number;
  readonly height: number;
  /** [H·W·3] RGB bytes. */
  readonly rgb: Uint8Array;
  /** The visible objects, in drawing order (later ones on top). */
  readonly objects: readonly ShapeObject[];
}

/** Categories in id order: every colour × shape, ids from 1 like COCO's. */
export const shapeCategories = (): ShapeCategory[] =>
  Object.keys(COLOURS)
    .flatMap((c) => SHAPES.map((s) => `${c} ${s}`))
    .map((name, i) => ({ id: i + 1, name }));

/** Zipf(1) class probabilities over the categories, commonest first. */
export function classProbabilities(n: number): Float64Array {
  const p = Float64Array.from({ length: n }, (_, i) => 1 / (i + 1));
  const z = p.reduce((a, b) => a + b, 0);
  return p.map((x) => x / z);
}

interface Placed {
  shape: (typeof SHAPES)[number];
  colourName: keyof typeof COLOURS;
  colour: readonly [number, number, number];
  categoryId: number;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Whether pixel centre (px, py) lies inside the shape's outline. */
function inside(o: Placed, px: number, py: number): boolean {
  const cx = (o.x0 + o.x1) / 2,
    cy = (o.y0 + o.y1) / 2;
  const rx = (o.x1 - o.x0) / 2,
    ry = (o.y1 - o.y0) / 2;
  switch (o.shape) {
    case 'square':
      return px >= o.x0 && px < o.x1 && py >= o.y0 && py < o.y1;
    case 'circle':
      return ((px - cx) / rx) ** 2 + ((py - cy) / ry) ** 2 <= 1;
    case 'triangle': {
      // Apex at top centre, base at the bottom: inside when |px − cx| ≤ rx · (py − y0) / (y1 − y0).
      if (py < o.y0 || py >= o.y1) return false;
      return Math.abs(px - cx) <= (rx * (py - o.y0)) / (o.y1 - o.y0);
    }
  }
}

const overlapFraction = (a: Placed, b: Placed): number => {
  const w = Math.max(0, Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0));
  const h = Math.max(0, Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0));
  return (w * h) / Math.min((a.x1 - a.x0) * (a.y1 - a.y0), (b.x1 - b.x0) * (b.y1 - b.y0));
};

function sampleCategory(rng: Rng, cdf: Float64Array): number {
  const u = rng.next();
  let k = 0;
  while (k < cdf.length - 1 && u >= cdf[k]) k++;
  return k;
}

/** Generates one image; `rng` advances deterministically. */
export function generateShapeImage(rng: Rng, size: number, maxObjects = 8, scene: SceneOptions = {}): ShapeImage {
  const D = SCENE_DEFAULTS;
  const { clutter = D.clutter, maxOverlap = D.maxOverlap, sideMin = D.sideMin, sideRange = D.sideRange } = scene;
  const cats = shapeCategories();
  const probs = classProbabilities(cats.length);
  const cdf = new Float64Array(probs.length);
  probs.reduce((acc, p, i) => (cdf[i] = acc + p), 0);
  // Class rank → category: a fixed shuffle so that the commonest class is not always the first id.
  const rankToCat = Rng.fromSeed(1234).shuffle(cats.map((c) => c.id));

  // Object count: P(k) ∝ 0.75^(k−1), k = 1..maxObjects (mean ≈ 3 for 8).
  let count = 1;
  while (count < maxObjects && rng.next() < 0.75) count++;

  const objects: Placed[] = [];
  for (let attempt = 0; objects.length < count && attempt < count * 20; attempt++) {
    const catId = rankToCat[sampleCategory(rng, cdf)];
    const name = cats[catId - 1].name;
    const [colourName, shape] = name.split(' ') as [keyof typeof COLOURS, (typeof SHAPES)[number]];
    const side = size * (sideMin + sideRange * rng.next());
    const aspect = shape === 'square' || shape === 'circle' ? 0.7 + 0.6 * rng.next() : 0.85 + 0.3 * rng.next();
    const w = Math.max(4, side * Math.sqrt(aspect)),
      h = Math.max(4, side / Math.sqrt(aspect));
    const x0 = rng.next() * (size - w),
      y0 = rng.next() * (size - h);
    const jitter = (v: number): number => Math.max(0, Math.min(255, Math.round(v + (rng.next() - 0.5) * 50)));
    const base = COLOURS[colourName];
    const o: Placed = {
      shape,
      colourName,
      colour: [jitter(base[0]), jitter(base[1]), jitter(base[2])],
      categoryId: catId,
      x0,
      y0,
      x1: x0 + w,
      y1: y0 + h,
    };
    // Partial occlusion is welcome; an object hidden for the most part is not (it could not be annotated fairly).
    if (objects.some((p) => overlapFraction(o, p) > maxOverlap)) continue;
    objects.push(o);
  }

  const rgb = new Uint8Array(size * size * 3);
  // Background: a grey level per image plus per-pixel noise.
  const bg = 90 + rng.int(80);
  for (let i = 0; i < size * size; i++) {
    const v = bg + rng.int(31) - 15;
    rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = v;
  }
  // Clutter: a few thin grey/brown strokes that are not objects.
  const strokes = clutter ? rng.int(4) : 0;
  for (let s = 0; s < strokes; s++) {
    const c = rng.next() < 0.5 ? [60, 60, 60] : [120, 90, 50];
    let x = rng.next() * size,
      y = rng.next() * size;
    const a = rng.next() * Math.PI * 2,
      len = size * (0.2 + 0.4 * rng.next());
    for (let t = 0; t < len; t++, x += Math.cos(a), y += Math.sin(a)) {
      const xi = Math.floor(x),
        yi = Math.floor(y);
      if (xi < 0 || yi < 0 || xi >= size || yi >= size) break;
      rgb.set(c, (yi * size + xi) * 3);
    }
  }
  // Objects in order, later ones on top; `owner` tracks which object each pixel finally shows.
  const owner = new Int16Array(size * size).fill(-1);
  objects.forEach((o, k) => {
    for (let py = Math.max(0, Math.floor(o.y0)); py < Math.min(size, Math.ceil(o.y1)); py++) {
      for (let px = Math.max(0, Math.floor(o.x0)); px < Math.min(size, Math.ceil(o.x1)); px++) {
        if (!inside(o, px + 0.5, py + 0.5)) continue;
        owner[py * size + px] = k;
        rgb.set(o.colour, (py * size + px) * 3);
      }
    }
  });

  const visible: ShapeObject[] = [];
  objects.forEach((o, k) => {
    let area = 0,
      minX = size,
      minY = size,
      maxX = -1,
      maxY = -1;
    for (let p = 0; p < owner.length; p++) {
      if (owner[p] !== k) continue;
      const px = p % size,
        py = (p - px) / size;
      area++;
      minX = Math.min(minX, px);
      maxX = Math.max(maxX, px);
      minY = Math.min(minY, py);
      maxY = Math.max(maxY, py);
    }
    if (area < 6) return; // too little left visible to be a fair target
    visible.push({
      categoryId: o.categoryId,
      shape: o.shape,
      colour: o.colourName,
      bbox: [minX, minY, maxX - minX + 1, maxY - minY + 1],
      area,
    });
  });
  return { width: size, height: size, rgb, objects: visible };
}

/** Generates `numImages` images from one seed; image i is the same whatever `numImages` is. */
export function* generateShapes(opts: ShapesOptions): Generator<ShapeImage> {
  for (let i = 0; i < opts.numImages; i++) {
    yield generateShapeImage(Rng.fromSeed((opts.seed * 1_000_003 + i) >>> 0), opts.size, opts.maxObjects, opts);
  }
}
