import { Rng } from '@reward-tune/core-model';
import {
  SCENE_CATEGORIES,
  generatePanopticScene,
  generatePanopticScenes,
  sceneAt,
  sceneSeed,
  sceneSegmentId,
  touchingTwins,
  type PanopticScene,
} from './scenes';

const thingIds = new Set(SCENE_CATEGORIES.filter((c) => c.isthing === 1).map((c) => c.id));
const stuffIds = new Set(SCENE_CATEGORIES.filter((c) => c.isthing === 0).map((c) => c.id));

/** Area and tight bbox of every id, recomputed from the pixels. */
function measure(s: PanopticScene): Map<number, { area: number; bbox: number[] }> {
  const m = new Map<number, { area: number; x0: number; y0: number; x1: number; y1: number }>();
  for (let p = 0; p < s.ids.length; p++) {
    const id = s.ids[p];
    if (id === 0) continue;
    const x = p % s.width,
      y = Math.floor(p / s.width);
    const e = m.get(id) ?? { area: 0, x0: x, y0: y, x1: x, y1: y };
    e.area++;
    e.x0 = Math.min(e.x0, x);
    e.y0 = Math.min(e.y0, y);
    e.x1 = Math.max(e.x1, x);
    e.y1 = Math.max(e.y1, y);
    m.set(id, e);
  }
  return new Map([...m].map(([id, e]) => [id, { area: e.area, bbox: [e.x0, e.y0, e.x1 - e.x0 + 1, e.y1 - e.y0 + 1] }]));
}

describe('synthetic panoptic scenes', () => {
  it('are deterministic in (seed, split, index) and differ between splits', () => {
    const a = sceneAt(3, 'train', 5);
    const b = sceneAt(3, 'train', 5);
    expect(Buffer.from(a.rgb).equals(Buffer.from(b.rgb))).toBe(true);
    expect(Array.from(a.ids)).toEqual(Array.from(b.ids));
    expect(a.segments).toEqual(b.segments);
    const rgbKeys = new Set<string>();
    for (const split of ['train', 'val', 'test'] as const) {
      for (const s of generatePanopticScenes(3, split, 40, { size: 16 }))
        rgbKeys.add(Buffer.from(s.rgb).toString('base64'));
    }
    expect(rgbKeys.size).toBe(120);
    expect(
      new Set([
        sceneSeed(3, 'train', 0),
        sceneSeed(3, 'val', 0),
        sceneSeed(3, 'test', 0),
        sceneSeed(4, 'train', 0),
        sceneSeed(3, 'train', 1),
      ]).size,
    ).toBe(5);
  });

  it('start a split at any index: image i is the same whatever came before', () => {
    const all = [...generatePanopticScenes(1, 'val', 6, { size: 16 })];
    const tail = [...generatePanopticScenes(1, 'val', 2, { size: 16 }, 4)];
    expect(tail.map((s) => Array.from(s.ids))).toEqual(all.slice(4).map((s) => Array.from(s.ids)));
  });

  it.each([16, 32, 64])('at %i px: segments match the pixels, with COCO areas and boxes', (size) => {
    for (let i = 0; i < 30; i++) {
      const s = sceneAt(0, 'train', i, { size });
      expect(s.rgb.length).toBe(size * size * 3);
      const m = measure(s);
      // Every id in the map is described, every segment has pixels, and its area and bbox are the visible ones.
      expect(new Set(m.keys())).toEqual(new Set(s.segments.map((g) => g.id)));
      for (const g of s.segments) {
        expect(m.get(g.id)).toEqual({ area: g.area, bbox: [...g.bbox] });
        expect(g.isthing ? thingIds.has(g.category_id) : stuffIds.has(g.category_id)).toBe(true);
        expect(g.iscrowd).toBe(0);
      }
      const things = s.segments.filter((g) => g.isthing);
      const stuff = s.segments.filter((g) => !g.isthing);
      expect(things.length).toBeGreaterThanOrEqual(1);
      expect(things.length).toBeLessThanOrEqual(3);
      expect(stuff.length).toBeGreaterThanOrEqual(1);
      expect(stuff.length).toBeLessThanOrEqual(3);
      // Stuff is one segment per class.
      expect(new Set(stuff.map((g) => g.category_id)).size).toBe(stuff.length);
    }
  });

  it('draws things few and large: sides about 14–26 px at 64²', () => {
    const sides: number[] = [];
    for (let i = 0; i < 100; i++) {
      for (const g of sceneAt(2, 'train', i).segments)
        if (g.isthing && g.twinOf === undefined) sides.push(Math.max(g.bbox[2], g.bbox[3]));
    }
    // Occlusion and strokes can only shrink a box; twins may be 10% larger than the original.
    expect(Math.max(...sides)).toBeLessThanOrEqual(27);
    const median = [...sides].sort((a, b) => a - b)[Math.floor(sides.length / 2)];
    expect(median).toBeGreaterThanOrEqual(16);
    expect(median).toBeLessThanOrEqual(24);
  });

  it('has void strokes in some images and none when maxStrokes is 0', () => {
    let withVoid = 0;
    for (let i = 0; i < 50; i++) if (sceneAt(0, 'test', i).ids.includes(0)) withVoid++;
    expect(withVoid).toBeGreaterThan(20);
    for (let i = 0; i < 20; i++) expect(sceneAt(0, 'test', i, { maxStrokes: 0 }).ids.includes(0)).toBe(false);
  });

  it('carries the ambiguity: touching same-class, same-colour twins in a good share of images', () => {
    let images = 0,
      pairs = 0;
    const n = 200;
    for (let i = 0; i < n; i++) {
      const t = touchingTwins(sceneAt(7, 'train', i));
      pairs += t;
      if (t > 0) images++;
    }
    // Expected about 0.3 of the images (two or three things, each later one a twin with p = 0.35).
    expect(images / n).toBeGreaterThan(0.2);
    expect(images / n).toBeLessThan(0.45);
    expect(pairs).toBeGreaterThanOrEqual(images);
    // And none without twins: other things are kept apart in colour.
    let untwinned = 0;
    for (let i = 0; i < n; i++) untwinned += touchingTwins(sceneAt(7, 'train', i, { twinProb: 0 }));
    expect(untwinned).toBe(0);
  });

  it('flags crowd things when asked, never stuff', () => {
    let crowd = 0;
    for (let i = 0; i < 50; i++) {
      for (const g of sceneAt(0, 'val', i, { size: 32, crowdProb: 0.5 }).segments) {
        if (g.iscrowd === 1) {
          expect(g.isthing).toBe(true);
          crowd++;
        }
      }
    }
    expect(crowd).toBeGreaterThan(10);
  });

  it('spreads segment ids over the three bytes, distinct per index', () => {
    const ids = Array.from({ length: 255 }, (_, k) => sceneSegmentId(k));
    expect(new Set(ids).size).toBe(255);
    expect(ids.every((id) => id > 0 && id < 256 ** 3)).toBe(true);
    expect(ids.some((id) => id >= 65536)).toBe(true);
    expect(() => sceneSegmentId(255)).toThrow(RangeError);
  });

  it('rejects an impossible size or thing count', () => {
    expect(() => generatePanopticScene(Rng.fromSeed(0), { size: 4 })).toThrow(RangeError);
    expect(() => generatePanopticScene(Rng.fromSeed(0), { minThings: 3, maxThings: 2 })).toThrow(RangeError);
  });
});
