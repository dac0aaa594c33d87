import { createHash } from 'node:crypto';
import { classProbabilities, generateShapes, shapeCategories } from './shapes';

describe('synthetic shapes scenes', () => {
  const images = [...generateShapes({ seed: 7, numImages: 300, size: 64 })];

  it('is deterministic per seed, and image i does not depend on how many are generated', () => {
    const again = [...generateShapes({ seed: 7, numImages: 3, size: 64 })];
    expect(again.map((im) => im.objects)).toEqual(images.slice(0, 3).map((im) => im.objects));
    expect(Buffer.from(again[2].rgb).equals(Buffer.from(images[2].rgb))).toBe(true);
    const other = [...generateShapes({ seed: 8, numImages: 1, size: 64 })][0];
    expect(Buffer.from(other.rgb).equals(Buffer.from(images[0].rgb))).toBe(false);
  });

  it('the scene options at their defaults draw the same images as before they existed (shipped checkpoints)', () => {
    // Hash of seed 7's first 20 images (pixels and annotations) from the generator before SceneOptions was added.
    const digest = (opts: object) => {
      const h = createHash('sha256');
      for (const im of generateShapes({ seed: 7, numImages: 20, size: 64, ...opts }))
        h.update(Buffer.from(im.rgb)).update(JSON.stringify(im.objects));
      return h.digest('hex');
    };
    const before = '57ec2e2985817d6c21f066bae206298ba92dc3e9aa8443e0e974561f21a0d92a';
    expect(digest({})).toBe(before);
    expect(digest({ clutter: true, maxOverlap: 0.4, sideMin: 0.12, sideRange: 0.33 })).toBe(before);
  });

  it('easier scenes: no overlap between boxes, no clutter, objects within the side range', () => {
    const easy = [
      ...generateShapes({
        seed: 7,
        numImages: 100,
        size: 48,
        maxObjects: 4,
        clutter: false,
        maxOverlap: 0,
        sideMin: 0.17,
        sideRange: 0.33,
      }),
    ];
    for (const im of easy) {
      const boxes = im.objects.map((o) => o.bbox);
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const [ax, ay, aw, ah] = boxes[i],
            [bx, by, bw, bh] = boxes[j];
          const w = Math.min(ax + aw, bx + bw) - Math.max(ax, bx),
            h = Math.min(ay + ah, by + bh) - Math.max(ay, by);
          expect(w <= 0 || h <= 0).toBe(true); // drawn boxes may shrink to their visible pixels, never grow
        }
        // Largest side at least the smallest object side (0.17 · 48 ≈ 8 px), up to rounding of the drawn pixels.
        expect(Math.max(boxes[i][2], boxes[i][3])).toBeGreaterThanOrEqual(7);
      }
    }
    // Without clutter the background holds only greys within ±15 of one level per image.
    const im = easy[0];
    const bgLevels = new Set<number>();
    const owned = new Uint8Array(48 * 48);
    for (const o of im.objects) {
      const [x, y, w, h] = o.bbox;
      for (let py = y; py < y + h; py++) for (let px = x; px < x + w; px++) owned[py * 48 + px] = 1;
    }
    for (let p = 0; p < 48 * 48; p++) if (!owned[p]) bgLevels.add(im.rgb[p * 3]);
    expect(Math.max(...bgLevels) - Math.min(...bgLevels)).toBeLessThanOrEqual(30);
  });

  it('has 1–8 objects per image with tight boxes inside the image and a Zipf class imbalance', () => {
    const counts = images.map((im) => im.objects.length);
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...counts)).toBeLessThanOrEqual(8);
    const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
    expect(mean).toBeGreaterThan(2);
    expect(mean).toBeLessThan(4.5);
    const perClass = new Map<number, number>();
    for (const im of images) {
      for (const a of im.objects) {
        const [x, y, w, h] = a.bbox;
        expect(x).toBeGreaterThanOrEqual(0);
        expect(y).toBeGreaterThanOrEqual(0);
        expect(x + w).toBeLessThanOrEqual(64);
        expect(y + h).toBeLessThanOrEqual(64);
        expect(a.area).toBeLessThanOrEqual(w * h);
        perClass.set(a.categoryId, (perClass.get(a.categoryId) ?? 0) + 1);
      }
    }
    expect(perClass.size).toBe(shapeCategories().length);
    const total = [...perClass.values()].reduce((a, b) => a + b, 0);
    const top = Math.max(...perClass.values()) / total;
    expect(top).toBeGreaterThan(0.25);
    expect(Math.min(...perClass.values()) / total).toBeLessThan(0.08);
  });

  it('draws the annotated objects in their class colour', () => {
    const im = images[0];
    const a = im.objects[0];
    const colour = shapeCategories()[a.categoryId - 1].name.split(' ')[0];
    const channel = { red: 0, green: 1, blue: 2 }[colour as 'red' | 'green' | 'blue'];
    // The dominant channel inside the box, summed, is the class colour's.
    const sums = [0, 0, 0];
    const [x, y, w, h] = a.bbox;
    for (let py = y; py < y + h; py++)
      for (let px = x; px < x + w; px++) for (let c = 0; c < 3; c++) sums[c] += im.rgb[(py * im.width + px) * 3 + c];
    expect(sums.indexOf(Math.max(...sums))).toBe(channel);
  });

  it('class probabilities are a normalised Zipf law', () => {
    const p = classProbabilities(9);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(p[0] / p[2]).toBeCloseTo(3, 12);
  });
});
