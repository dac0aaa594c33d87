/**
 * Synthetic panoptic scenes: the built-in data of the panoptic task, deterministic from a seed, made so that the
 * guiding code has something to carry that a feed-forward decoder cannot read from the image.
 *
 * - Stuff: 2–3 bands split by random wavy boundaries (horizontal or vertical), each band one of 3 stuff classes told
 *   apart by TEXTURE (smooth gradient / per-pixel grain / stripes) in a random colour. Neighbouring bands differ in
 *   class; the first and last band of three may share one, and then form one segment of two pieces (stuff is one
 *   segment per class, as in COCO).
 * - Things: 1–3 instances of 3 classes told apart by SHAPE (square, disc, triangle), flat random colours, sides
 *   14–26 px at 64² (scaled with the image), later ones on top; the ground truth is the visible pixels, and a
 *   placement that would hide more than 40% of an earlier thing is redrawn. Few and large on purpose: at this
 *   resolution small or many things barely train.
 * - The ambiguity: with probability `twinProb` a new thing is a TWIN of an earlier one: same class, same colour,
 *   about the same size, abutting it. The image shows one blob; only the shape prior (two squares, never one
 *   rectangle) says where one instance ends.
 * - Void: up to 3 one-pixel clutter strokes drawn over everything, labelled 0.
 * - Crowd: optionally (`crowdProb`, default 0) a thing is flagged iscrowd, to exercise panopticapi's crowd rules.
 *
 * A scene is already in the COCO panoptic form: a segment-id map (0 = void) and a segments list with COCO's
 * fields. Segment ids are spread over all three bytes of R + 256·G + 256²·B so that a round trip through the PNG
 * exercises the whole encoding.
 *
 * One file because it is one generator: every part of a scene (bands, things, twins, strokes) draws from the same
 * random stream in a fixed order, which is what keeps a seed's scenes identical.
 */
import { Rng, type Rgb } from '@reward-tune/core-model';

/** A category as COCO panoptic's `categories` list has it (`color` is what panopticapi's IdGenerator uses). */
export interface SceneCategory {
  readonly id: number;
  readonly name: string;
  readonly supercategory: string;
  readonly isthing: 0 | 1;
  readonly color: Rgb;
}

export const THING_SHAPES = ['square', 'disc', 'triangle'] as const;
export const STUFF_TEXTURES = ['gradient', 'grain', 'stripes'] as const;
export type ThingShape = (typeof THING_SHAPES)[number];
export type StuffTexture = (typeof STUFF_TEXTURES)[number];

/**
 * The scenes' categories, sorted by id. Ids are not contiguous (things 1–3, stuff 11–13), as COCO's are not, so that
 * code which confuses a category id with a class index fails on the built-in data too.
 */
export const SCENE_CATEGORIES: readonly SceneCategory[] = [
  { id: 1, name: 'square', supercategory: 'shape', isthing: 1, color: [220, 20, 60] },
  { id: 2, name: 'disc', supercategory: 'shape', isthing: 1, color: [0, 130, 230] },
  { id: 3, name: 'triangle', supercategory: 'shape', isthing: 1, color: [250, 170, 30] },
  { id: 11, name: 'gradient', supercategory: 'texture', isthing: 0, color: [120, 120, 120] },
  { id: 12, name: 'grain', supercategory: 'texture', isthing: 0, color: [150, 100, 60] },
  { id: 13, name: 'stripes', supercategory: 'texture', isthing: 0, color: [60, 150, 100] },
];
const THING_CATEGORY: Readonly<Record<ThingShape, number>> = { square: 1, disc: 2, triangle: 3 };
const STUFF_CATEGORY: Readonly<Record<StuffTexture, number>> = { gradient: 11, grain: 12, stripes: 13 };

export interface PanopticSceneOptions {
  /** Square image side in pixels (default 64). Thing sizes, stripe periods and stroke lengths scale with it. */
  readonly size?: number;
  /** Things per image, uniform in [minThings, maxThings] (defaults 1 and 3). */
  readonly minThings?: number;
  readonly maxThings?: number;
  /** Thing side in pixels at 64², uniform in [sideMin, sideMax] (defaults 14 and 26), scaled by size/64. */
  readonly sideMin?: number;
  readonly sideMax?: number;
  /** Probability that a thing after the first is a touching same-class, same-colour twin (default 0.35). */
  readonly twinProb?: number;
  /** Most one-pixel void strokes per image (default 3; 0 = none). */
  readonly maxStrokes?: number;
  /** Probability that a thing is flagged iscrowd (default 0). */
  readonly crowdProb?: number;
}

export const SCENE_DEFAULTS: Required<PanopticSceneOptions> = {
  size: 64,
  minThings: 1,
  maxThings: 3,
  sideMin: 14,
  sideMax: 26,
  twinProb: 0.35,
  maxStrokes: 3,
  crowdProb: 0,
};

/** One segment of a scene: COCO's `segments_info` fields, plus what drew it. */
export interface SceneSegment {
  readonly id: number;
  readonly category_id: number;
  /** 1 for a crowd region, else 0. */
  readonly iscrowd: 0 | 1;
  /** Visible pixel count. */
  readonly area: number;
  /** Tight box [x, y, w, h] around the visible pixels. */
  readonly bbox: readonly [number, number, number, number];
  readonly isthing: boolean;
  /** The flat colour of a thing (stuff bands have a colour each; not recorded). */
  readonly colour?: Rgb;
  /** For a thing drawn as a twin: the index (in `segments`) of the thing it copies. */
  readonly twinOf?: number;
}

export interface PanopticScene {
  readonly width: number;
  readonly height: number;
  /** [H·W·3] RGB bytes. */
  readonly rgb: Uint8Array;
  /** [H·W] segment id per pixel, 0 = void. */
  readonly ids: Uint32Array;
  /** Stuff segments (by category id) first, then things in drawing order. Every segment has pixels. */
  readonly segments: readonly SceneSegment[];
}

/** The id of the k-th segment of a scene (k from 0): low byte k + 1, the other bytes spread, so ids are distinct. */
export const sceneSegmentId = (k: number): number => {
  if (k < 0 || k > 254) throw new RangeError(`sceneSegmentId: index ${k} outside 0..254`);
  const j = k + 1;
  return j + 256 * ((37 * j) % 256) + 65536 * ((101 * j) % 256);
};

interface Thing {
  shape: ThingShape;
  x0: number;
  y0: number;
  side: number;
  colour: Rgb;
  twinOf?: number;
  /** Indices of the pixels the full shape covers. */
  mask: Int32Array;
}

/** Whether the pixel centre (px, py) lies inside the shape whose bounding square starts at (x0, y0). */
function inside(shape: ThingShape, x0: number, y0: number, side: number, px: number, py: number): boolean {
  if (px < x0 || px >= x0 + side || py < y0 || py >= y0 + side) return false;
  switch (shape) {
    case 'square':
      return true;
    case 'disc': {
      const r = side / 2;
      return (px - x0 - r) ** 2 + (py - y0 - r) ** 2 <= r * r;
    }
    case 'triangle':
      // Apex at the top centre, base along the bottom edge.
      return Math.abs(px - x0 - side / 2) <= ((side / 2) * (py - y0)) / side;
  }
}

function rasterise(shape: ThingShape, x0: number, y0: number, side: number, size: number): Int32Array {
  const out: number[] = [];
  for (let y = Math.max(0, Math.floor(y0)); y < Math.min(size, Math.ceil(y0 + side)); y++) {
    for (let x = Math.max(0, Math.floor(x0)); x < Math.min(size, Math.ceil(x0 + side)); x++) {
      if (inside(shape, x0, y0, side, x + 0.5, y + 0.5)) out.push(y * size + x);
    }
  }
  return Int32Array.from(out);
}

const randomColour = (rng: Rng): Rgb => [40 + rng.int(176), 40 + rng.int(176), 40 + rng.int(176)];
const colourDistance = (a: Rgb, b: Rgb): number =>
  Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2]);
const clampByte = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** Generates one scene; `rng` advances deterministically. */
export function generatePanopticScene(rng: Rng, options: PanopticSceneOptions = {}): PanopticScene {
  const o = { ...SCENE_DEFAULTS, ...options };
  const S = o.size;
  if (!Number.isInteger(S) || S < 8)
    throw new RangeError(`generatePanopticScene: size must be an integer ≥ 8, got ${S}`);
  if (!(o.minThings >= 0 && o.maxThings >= o.minThings && o.maxThings <= 200)) {
    throw new RangeError(
      `generatePanopticScene: expected 0 ≤ minThings ≤ maxThings ≤ 200, got ${o.minThings}, ${o.maxThings}`,
    );
  }
  const scale = S / 64;
  const P = S * S;
  const rgb = new Uint8Array(P * 3);

  // --- Stuff: bands split by wavy boundaries, a texture class and a colour each.
  const bands = 2 + rng.int(2);
  const vertical = rng.next() < 0.5;
  const boundaries: { base: number; amp: number; freq: number; phase: number }[] = [];
  for (let j = 0; j < bands - 1; j++) {
    const lo = (j + 0.6) / bands,
      hi = (j + 1.4) / bands; // around the even split, so bands keep some width
    boundaries.push({
      base: S * (lo + (hi - lo) * rng.next()),
      amp: S * (0.03 + 0.07 * rng.next()),
      freq: (2 * Math.PI) / (S * (0.5 + rng.next())),
      phase: 2 * Math.PI * rng.next(),
    });
  }
  const bandTexture: number[] = [];
  for (let b = 0; b < bands; b++) {
    let t = rng.int(3);
    if (b > 0 && t === bandTexture[b - 1]) t = (t + 1 + rng.int(2)) % 3;
    bandTexture.push(t);
  }
  const bandColour = bandTexture.map(() => randomColour(rng));
  const bandOf = new Uint8Array(P);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const along = vertical ? y + 0.5 : x + 0.5;
      const across = vertical ? x + 0.5 : y + 0.5;
      let b = 0;
      for (const w of boundaries) if (across > w.base + w.amp * Math.sin(w.freq * along + w.phase)) b++;
      bandOf[y * S + x] = b;
    }
  }
  // Texture parameters per band, drawn before any pixel noise so that they do not depend on the band's area.
  const bandParams = bandTexture.map((t) => {
    const angle = rng.next() * 2 * Math.PI;
    if (t === 0) return { angle, strength: 30 + 30 * rng.next(), period: 0 };
    if (t === 1) return { angle, strength: 25 + 20 * rng.next(), period: 0 };
    return {
      angle: (rng.int(4) * Math.PI) / 4,
      strength: 30 + 15 * rng.next(),
      period: Math.max(2, Math.round(scale * (4 + rng.int(4)))),
    };
  });
  for (let p = 0; p < P; p++) {
    const x = p % S,
      y = (p - x) / S;
    const b = bandOf[p];
    const c = bandColour[b];
    const { angle, strength, period } = bandParams[b];
    let d: number;
    switch (bandTexture[b]) {
      case 0: // smooth gradient across the image
        d = (strength * ((x - S / 2) * Math.cos(angle) + (y - S / 2) * Math.sin(angle))) / (S / 2);
        break;
      case 1: // per-pixel grain
        d = strength * (2 * rng.next() - 1);
        break;
      default: {
        // stripes: bands of period/2 pixels along the direction `angle`
        const u = Math.round(x * Math.cos(angle) + y * Math.sin(angle));
        d = Math.floor((2 * u) / period) % 2 === 0 ? strength : -strength;
      }
    }
    rgb[3 * p] = clampByte(c[0] + d);
    rgb[3 * p + 1] = clampByte(c[1] + d);
    rgb[3 * p + 2] = clampByte(c[2] + d);
  }

  // --- Things, later ones on top; `owner[p]` is the index of the thing a pixel shows (−1: stuff).
  const owner = new Int16Array(P).fill(-1);
  const visible: number[] = [];
  const things: Thing[] = [];
  const count = o.minThings + rng.int(o.maxThings - o.minThings + 1);
  const sideAt = (): number => scale * (o.sideMin + (o.sideMax - o.sideMin) * rng.next());
  /** Accepts a placement when every earlier thing keeps ≥ 60% of its full shape visible. */
  const fits = (mask: Int32Array): boolean => {
    if (mask.length === 0) return false;
    const lost = new Int32Array(things.length);
    for (const p of mask) if (owner[p] >= 0) lost[owner[p]]++;
    return things.every((t, k) => visible[k] - lost[k] >= 0.6 * t.mask.length);
  };
  const thingColour = (): Rgb => {
    let c = randomColour(rng);
    for (let tries = 0; tries < 30; tries++) {
      const farFromStuff = bandColour.every((s) => colourDistance(c, s) >= 100);
      const farFromThings = things.every((t) => colourDistance(c, t.colour) >= 90);
      if (farFromStuff && farFromThings) break;
      c = randomColour(rng);
    }
    return c;
  };
  const place = (t: Thing): void => {
    const k = things.length;
    for (const p of t.mask) {
      if (owner[p] >= 0) visible[owner[p]]--;
      owner[p] = k;
    }
    visible.push(t.mask.length);
    things.push(t);
  };

  for (let n = 0; n < count; n++) {
    let placed = false;
    if (n > 0 && rng.next() < o.twinProb) {
      // A twin: same class and colour, about the same size, abutting an earlier thing.
      const of = rng.int(things.length);
      const a = things[of];
      for (let tries = 0; tries < 10 && !placed; tries++) {
        const side = a.side * (0.9 + 0.2 * rng.next());
        const dir = rng.int(4); // right, left, down, up
        // How far the twin sits from the original, in sides: squares abut exactly; discs and triangles overlap a
        // little, else they would meet in a single point.
        const gap = a.shape === 'square' ? 1 : a.shape === 'disc' ? 0.9 : dir < 2 ? 0.75 : 0.9;
        const shift = rng.next() < 0.5 ? 0 : (rng.next() - 0.5) * a.side; // along the shared edge
        const cx = a.x0 + a.side / 2,
          cy = a.y0 + a.side / 2;
        const step = (a.side + side) / 2;
        const nx = dir === 0 ? cx + gap * step : dir === 1 ? cx - gap * step : cx + shift;
        const ny = dir === 2 ? cy + gap * step : dir === 3 ? cy - gap * step : cy + shift;
        const x0 = nx - side / 2,
          y0 = ny - side / 2;
        if (x0 < 0 || y0 < 0 || x0 + side > S || y0 + side > S) continue;
        const mask = rasterise(a.shape, x0, y0, side, S);
        if (!fits(mask)) continue;
        place({ shape: a.shape, x0, y0, side, colour: a.colour, twinOf: of, mask });
        placed = true;
      }
    }
    for (let tries = 0; tries < 30 && !placed; tries++) {
      const shape = THING_SHAPES[rng.int(3)];
      const side = sideAt();
      const x0 = rng.next() * (S - side),
        y0 = rng.next() * (S - side);
      const mask = rasterise(shape, x0, y0, side, S);
      if (!fits(mask)) continue;
      place({ shape, x0, y0, side, colour: thingColour(), mask });
      placed = true;
    }
  }
  for (let p = 0; p < P; p++) {
    if (owner[p] < 0) continue;
    rgb.set(things[owner[p]].colour, 3 * p);
  }
  const crowd = things.map(() => (o.crowdProb > 0 && rng.next() < o.crowdProb ? 1 : 0) as 0 | 1);

  // --- Void: one-pixel clutter strokes over everything.
  const isVoid = new Uint8Array(P);
  const strokes = o.maxStrokes > 0 ? rng.int(o.maxStrokes + 1) : 0;
  for (let s = 0; s < strokes; s++) {
    const v = 20 + rng.int(70);
    const c: Rgb = [v, v + rng.int(20), v];
    let x = rng.next() * S,
      y = rng.next() * S;
    const a = rng.next() * 2 * Math.PI,
      len = S * (0.2 + 0.3 * rng.next());
    for (let t = 0; t < len; t++, x += Math.cos(a), y += Math.sin(a)) {
      const xi = Math.floor(x),
        yi = Math.floor(y);
      if (xi < 0 || yi < 0 || xi >= S || yi >= S) break;
      isVoid[yi * S + xi] = 1;
      rgb.set(c, 3 * (yi * S + xi));
    }
  }

  // --- Segments: stuff by category id, then things in drawing order; ids by position.
  const keyOf = new Int32Array(P); // 1 + stuff texture (1..3) or 4 + thing index; 0 = void
  for (let p = 0; p < P; p++) keyOf[p] = isVoid[p] ? 0 : owner[p] >= 0 ? 4 + owner[p] : 1 + bandTexture[bandOf[p]];
  const nKeys = 4 + things.length;
  const area = new Int32Array(nKeys);
  const minX = new Int32Array(nKeys).fill(S),
    minY = new Int32Array(nKeys).fill(S);
  const maxX = new Int32Array(nKeys).fill(-1),
    maxY = new Int32Array(nKeys).fill(-1);
  for (let p = 0; p < P; p++) {
    const k = keyOf[p];
    const x = p % S,
      y = (p - x) / S;
    area[k]++;
    if (x < minX[k]) minX[k] = x;
    if (x > maxX[k]) maxX[k] = x;
    if (y < minY[k]) minY[k] = y;
    if (y > maxY[k]) maxY[k] = y;
  }
  const segments: SceneSegment[] = [];
  const idOfKey = new Uint32Array(nKeys);
  const segmentOfThing = new Int32Array(things.length).fill(-1);
  for (let k = 1; k < nKeys; k++) {
    if (area[k] === 0) continue;
    const id = sceneSegmentId(segments.length);
    idOfKey[k] = id;
    const bbox = [minX[k], minY[k], maxX[k] - minX[k] + 1, maxY[k] - minY[k] + 1] as const;
    if (k < 4) {
      segments.push({
        id,
        category_id: STUFF_CATEGORY[STUFF_TEXTURES[k - 1]],
        iscrowd: 0,
        area: area[k],
        bbox,
        isthing: false,
      });
    } else {
      const t = things[k - 4];
      segmentOfThing[k - 4] = segments.length;
      const twinOf = t.twinOf === undefined ? undefined : segmentOfThing[t.twinOf];
      segments.push({
        id,
        category_id: THING_CATEGORY[t.shape],
        iscrowd: crowd[k - 4],
        area: area[k],
        bbox,
        isthing: true,
        colour: t.colour,
        ...(twinOf !== undefined && twinOf >= 0 ? { twinOf } : {}),
      });
    }
  }
  const ids = new Uint32Array(P);
  for (let p = 0; p < P; p++) ids[p] = idOfKey[keyOf[p]];
  return { width: S, height: S, rgb, ids, segments };
}

export const PANOPTIC_SPLITS = ['train', 'val', 'test'] as const;
export type PanopticSplit = (typeof PANOPTIC_SPLITS)[number];

/**
 * The 32-bit seed of image `index` of `split` under the dataset seed `seed` (a murmur3-style mix of the three), so
 * each split is its own stream: no two splits share a scene, and image i is the same whatever the split's size.
 */
export function sceneSeed(seed: number, split: PanopticSplit, index: number): number {
  let h = Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(PANOPTIC_SPLITS.indexOf(split) + 1, 0x85ebca77);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h ^= Math.imul(index >>> 0, 0xc2b2ae3d);
  h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Image `index` of `split`: the same scene every time it is asked for. */
export const sceneAt = (
  seed: number,
  split: PanopticSplit,
  index: number,
  options: PanopticSceneOptions = {},
): PanopticScene => generatePanopticScene(Rng.fromSeed(sceneSeed(seed, split, index)), options);

/** Images `first`, …, `first + count − 1` of `split`. */
export function* generatePanopticScenes(
  seed: number,
  split: PanopticSplit,
  count: number,
  options: PanopticSceneOptions = {},
  first = 0,
): Generator<PanopticScene> {
  for (let i = first; i < first + count; i++) yield sceneAt(seed, split, i, options);
}

/**
 * The number of pairs of things in a scene that share class and colour and touch (4-neighbouring visible pixels):
 * what the image alone cannot separate but by shape.
 */
export function touchingTwins(scene: PanopticScene): number {
  const { width: W, height: H, ids, segments } = scene;
  const index = new Map(segments.map((s, k) => [s.id, k]));
  const touching = new Set<string>();
  const check = (a: number, b: number): void => {
    if (b === 0 || b === a) return;
    const sa = segments[index.get(a)!],
      sb = segments[index.get(b)!];
    if (!sa.isthing || !sb.isthing || sa.category_id !== sb.category_id) return;
    if (sa.colour === undefined || sb.colour === undefined || colourDistance(sa.colour, sb.colour) !== 0) return;
    touching.add(a < b ? `${a},${b}` : `${b},${a}`);
  };
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const a = ids[y * W + x];
      if (a === 0) continue;
      if (x + 1 < W) check(a, ids[y * W + x + 1]);
      if (y + 1 < H) check(a, ids[(y + 1) * W + x]);
    }
  }
  return touching.size;
}
