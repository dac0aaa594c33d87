import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { encodePng } from './image';
import { parseCocoInstances, readCocoInstances } from './coco-instances';

const F = 'instances_val.json';

function fixture() {
  return {
    info: { description: 'ignored' },
    images: [
      { id: 7, file_name: 'a.png', width: 4, height: 2 },
      { id: 3, file_name: 'b.png', width: 10, height: 10 },
    ],
    categories: [
      { id: 90, name: 'toothbrush', supercategory: 'indoor' },
      { id: 1, name: 'person' },
      { id: 18, name: 'dog' },
    ],
    annotations: [
      { id: 1, image_id: 7, category_id: 18, bbox: [0, 0, 2, 2], area: 4, iscrowd: 0, segmentation: [[0, 0, 1, 1]] },
      { id: 2, image_id: 3, category_id: 90, bbox: [1.5, 2, 8.5, 3], area: 20, iscrowd: 1 },
      { id: 5, image_id: 7, category_id: 1, bbox: [2, 0, 2.5, 2], area: 3, iscrowd: 0 },
    ],
  };
}
type Fixture = ReturnType<typeof fixture>;

const problem = (edit: (f: Fixture) => void, options = {}): string => {
  const f = fixture();
  edit(f);
  const r = parseCocoInstances(f, F, options);
  if (E.isRight(r)) throw new Error('expected a Left');
  return r.left;
};

describe('parseCocoInstances', () => {
  it('groups boxes per image and maps category ids to contiguous labels sorted by id', () => {
    const r = parseCocoInstances(fixture(), F);
    if (E.isLeft(r)) throw new Error(r.left);
    const ds = r.right;
    expect(ds.categories.map((c) => [c.id, c.index, c.name])).toEqual([
      [1, 0, 'person'],
      [18, 1, 'dog'],
      [90, 2, 'toothbrush'],
    ]);
    expect([...ds.labelOf.entries()]).toEqual([
      [1, 0],
      [18, 1],
      [90, 2],
    ]);
    expect(ds.images.map((i) => [i.id, i.fileName, i.width, i.height])).toEqual([
      [7, 'a.png', 4, 2],
      [3, 'b.png', 10, 10],
    ]);
    expect(ds.images[0].annotations).toEqual([
      { id: 1, categoryId: 18, label: 1, bbox: [0, 0, 2, 2], area: 4, iscrowd: false },
      { id: 5, categoryId: 1, label: 0, bbox: [2, 0, 2.5, 2], area: 3, iscrowd: false },
    ]);
    expect(ds.images[1].annotations).toEqual([
      { id: 2, categoryId: 90, label: 2, bbox: [1.5, 2, 8.5, 3], area: 20, iscrowd: true },
    ]);
  });

  it('reports each problem as one line with file and field', () => {
    expect(problem((f) => (f.annotations[1].bbox = [1, 1, 0, 3]))).toBe(
      `${F}: annotations[1].bbox: expected [x, y, w, h] with w > 0 and h > 0`,
    );
    expect(problem((f) => (f.annotations[0].bbox = [1, 1, 3]))).toBe(
      `${F}: annotations[0].bbox: expected [x, y, w, h] with w > 0 and h > 0`,
    );
    expect(problem((f) => (f.annotations[0].bbox = [1, NaN, 1, 1]))).toBe(
      `${F}: annotations[0].bbox: expected [x, y, w, h] with w > 0 and h > 0`,
    );
    expect(problem((f) => (f.annotations[2].image_id = 8))).toBe(`${F}: annotations[2].image_id: no image with id 8`);
    expect(problem((f) => (f.annotations[2].category_id = 2))).toBe(
      `${F}: annotations[2].category_id: no category with id 2`,
    );
    expect(problem((f) => (f.annotations[2].id = 1))).toBe(
      `${F}: annotations[2].id: duplicate id 1 (also at annotations[0])`,
    );
    expect(problem((f) => (f.images[1].id = 7))).toBe(`${F}: images[1].id: duplicate id 7 (also at images[0])`);
    expect(problem((f) => (f.categories[2].id = 90))).toBe(
      `${F}: categories[2].id: duplicate id 90 (also at categories[0])`,
    );
    expect(problem((f) => (f.images = []))).toBe(`${F}: images: dataset has no images`);
    // Image 7 is 4×2: x + w = 5.5 exceeds 4 by 1.5 > 1 px.
    expect(problem((f) => (f.annotations[2].bbox = [2, 0, 3.5, 2]))).toBe(
      `${F}: annotations[2].bbox: [2, 0, 3.5, 2] reaches outside image 7 (4×2) by more than 1 px`,
    );
  });

  it('accepts boxes within the tolerance and honours a custom tolerance', () => {
    const within = fixture();
    within.annotations[2].bbox = [2, -1, 3, 3]; // 1 px over on the right and the top: allowed by default
    expect(E.isRight(parseCocoInstances(within, F))).toBe(true);
    expect(problem((f) => (f.annotations[2].bbox = [2, -1, 3, 3]), { bboxTolerance: 0 })).toBe(
      `${F}: annotations[2].bbox: [2, -1, 3, 3] reaches outside image 7 (4×2) by more than 0 px`,
    );
  });

  it('reports missing or mistyped required fields through the schema, with the field path', () => {
    expect(problem((f) => delete (f.annotations[1] as Partial<Fixture['annotations'][number]>).area)).toBe(
      `${F}: annotations[1].area: Invalid input: expected number, received undefined`,
    );
    expect(problem((f) => ((f.images[0] as { width: unknown }).width = '4'))).toBe(
      `${F}: images[0].width: Invalid input: expected number, received string`,
    );
    expect(problem((f) => ((f.annotations[0] as { iscrowd: number }).iscrowd = 2))).toBe(
      `${F}: annotations[0].iscrowd: expected 0 or 1`,
    );
    expect(problem((f) => delete (f as Partial<Fixture>).categories)).toBe(
      `${F}: categories: Invalid input: expected array, received undefined`,
    );
  });
});

describe('readCocoInstances (files)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cm-coco-'));
  const imageDir = path.join(dir, 'val');
  mkdirSync(imageDir);
  // a.png is 4×2: a horizontal ramp 0, 85, 170, 255 in every channel.
  const ramp = Uint8Array.from([0, 85, 170, 255, 0, 85, 170, 255].flatMap((v) => [v, v, v]));
  writeFileSync(path.join(imageDir, 'a.png'), encodePng({ width: 4, height: 2, data: ramp }));
  const file = path.join(dir, F);
  writeFileSync(file, JSON.stringify(fixture()));

  it('names the first image whose file is missing', () => {
    expect(readCocoInstances(file, { imageDir })).toEqual(
      E.left(`${file}: images[1].file_name: file not found: ${path.join(imageDir, 'b.png')}`),
    );
  });

  it('loads images lazily, resized and in [−1, 1], and checks the declared size', () => {
    writeFileSync(path.join(imageDir, 'b.png'), encodePng({ width: 3, height: 3, data: new Uint8Array(27) }));
    const r = readCocoInstances(file, { imageDir });
    if (E.isLeft(r)) throw new Error(r.left);
    const m = r.right.loadImage(r.right.images[0], { height: 1, width: 2 });
    if (E.isLeft(m)) throw new Error(m.left);
    // 4 → 2 columns: means of (0, 85) and (170, 255) = 42.5, 212.5 → 42.5/127.5 − 1 = −2/3 and 212.5/127.5 − 1 = 2/3.
    expect(Array.from(m.right.pixels)).toEqual([-2 / 3, -2 / 3, -2 / 3, 2 / 3, 2 / 3, 2 / 3].map(Math.fround));
    expect(r.right.loadImage(r.right.images[1], { height: 2, width: 2 })).toEqual(
      E.left(`${path.join(imageDir, 'b.png')}: image is 3×3 but ${file} declares 10×10 for image 3`),
    );
  });

  it('names the file for unreadable and malformed JSON', () => {
    expect(readCocoInstances(path.join(dir, 'nope.json'))).toEqual(
      E.left(`${path.join(dir, 'nope.json')}: cannot read file (ENOENT)`),
    );
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{"images": [');
    const r = readCocoInstances(bad);
    expect(E.isLeft(r) && r.left.startsWith(`${bad}: malformed JSON`)).toBe(true);
  });

  it('without an image directory, loading says so', () => {
    const r = readCocoInstances(file);
    if (E.isLeft(r)) throw new Error(r.left);
    expect(r.right.loadImage(r.right.images[0], { height: 1, width: 1 })).toEqual(
      E.left(`${file}: no image directory given, cannot load image 7`),
    );
  });
});
