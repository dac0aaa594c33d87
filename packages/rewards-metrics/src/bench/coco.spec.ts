// The COCO benchmark generator: deterministic, shaped as documented (the timing itself needs the built CLI and is
// run by hand or by `rewards-metrics bench`).
import { synthCoco } from './coco';

describe('synthCoco', () => {
  const a = synthCoco({ images: 100, categories: 12, seed: 3 });

  it('is deterministic in its seed', () => {
    const json = JSON.stringify(a);
    expect(JSON.stringify(synthCoco({ images: 100, categories: 12, seed: 3 }))).toBe(json);
    expect(JSON.stringify(synthCoco({ images: 100, categories: 12, seed: 4 }))).not.toBe(json);
  });

  it('has the requested size: 100 detections per image, ~7.4 GT per image, unique ids', () => {
    expect(a.gt.images).toHaveLength(100);
    expect(a.gt.categories).toHaveLength(12);
    expect(a.dt).toHaveLength(100 * 100);
    expect(a.gt.annotations.length / 100).toBeGreaterThan(6.4);
    expect(a.gt.annotations.length / 100).toBeLessThan(8.4);
    expect(new Set(a.gt.images.map((im) => im.id)).size).toBe(100);
    expect(new Set(a.gt.annotations.map((g) => g.id)).size).toBe(a.gt.annotations.length);
  });

  it('covers what the evaluation must handle: crowd GT, all area ranges, score ties, unknown categories', () => {
    const areas = a.gt.annotations.map((g) => g.area);
    expect(
      areas.some((x) => x < 32 ** 2) && areas.some((x) => x > 32 ** 2 && x < 96 ** 2) && areas.some((x) => x > 96 ** 2),
    ).toBe(true);
    expect(a.gt.annotations.some((g) => g.iscrowd === 1)).toBe(true);
    expect(new Set(a.dt.map((d) => d.score)).size).toBeLessThan(a.dt.length / 10);
    const cats = new Set(a.gt.categories.map((c) => c.id));
    expect(a.dt.some((d) => !cats.has(d.category_id))).toBe(true);
  });
});
