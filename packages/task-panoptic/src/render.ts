/**
 * Pictures of panoptic maps for reports and previews: segments filled with colours (stuff by class, things by
 * instance), void black, segment outlines white; rows of images side by side, enlarged.
 */
import type { RgbImage } from '@reward-tune/core-model';
import type { PanopticImage } from '@reward-tune/rewards-metrics';
import { isThingClass, type PanopticClasses } from './classes';

const STUFF_PALETTE: readonly (readonly [number, number, number])[] = [
  [90, 110, 140],
  [140, 120, 80],
  [80, 130, 100],
  [130, 90, 130],
  [100, 100, 100],
];
const THING_PALETTE: readonly (readonly [number, number, number])[] = [
  [255, 60, 60],
  [60, 200, 255],
  [255, 210, 40],
  [120, 255, 90],
  [255, 110, 220],
  [255, 150, 40],
  [170, 120, 255],
  [40, 255, 200],
];

/** The map as colours: stuff muted by class, things bright by segment order, void black, outlines white. */
export function renderSegments(map: PanopticImage, classes: PanopticClasses, outlines = true): RgbImage {
  const { width: W, height: H, ids } = map;
  const colourOf = new Map<number, readonly [number, number, number]>();
  let things = 0;
  for (const s of map.segments) {
    const sem = classes.semanticOf.get(s.category_id) ?? 0;
    const cat = classes.categories[sem - 1];
    colourOf.set(
      s.id,
      cat !== undefined && isThingClass(cat)
        ? THING_PALETTE[things++ % THING_PALETTE.length]
        : STUFF_PALETTE[sem % STUFF_PALETTE.length],
    );
  }
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = y * W + x;
      const id = ids[p];
      const edge = outlines && ((x + 1 < W && ids[p + 1] !== id) || (y + 1 < H && ids[p + W] !== id));
      const c = edge
        ? ([255, 255, 255] as const)
        : id === 0
          ? ([0, 0, 0] as const)
          : (colourOf.get(id) ?? ([255, 0, 255] as const));
      data.set(c, 3 * p);
    }
  }
  return { width: W, height: H, data };
}

/** Nearest-neighbour enlargement by an integer factor. */
export function enlarge(img: RgbImage, factor: number): RgbImage {
  const W = img.width * factor,
    H = img.height * factor;
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const s = (Math.floor(y / factor) * img.width + Math.floor(x / factor)) * 3;
      data.set(img.data.subarray(s, s + 3), (y * W + x) * 3);
    }
  }
  return { width: W, height: H, data };
}

/** A grid of equally sized images (rows of columns) with `gap` grey pixels between them. */
export function imageGrid(rows: readonly (readonly RgbImage[])[], gap = 2): RgbImage {
  const cell = rows[0]?.[0];
  if (cell === undefined) throw new RangeError('imageGrid: no images');
  const cols = Math.max(...rows.map((r) => r.length));
  const W = cols * cell.width + (cols + 1) * gap,
    H = rows.length * cell.height + (rows.length + 1) * gap;
  const data = new Uint8Array(W * H * 3).fill(64);
  rows.forEach((row, r) =>
    row.forEach((img, c) => {
      if (img.width !== cell.width || img.height !== cell.height)
        throw new RangeError('imageGrid: images differ in size');
      const x0 = gap + c * (cell.width + gap),
        y0 = gap + r * (cell.height + gap);
      for (let y = 0; y < img.height; y++)
        data.set(img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3), ((y0 + y) * W + x0) * 3);
    }),
  );
  return { width: W, height: H, data };
}
