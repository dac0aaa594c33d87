import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { encodePng } from './image';
import { parseCocoPanoptic, readCocoPanoptic, rgbToSegmentId } from './coco-panoptic';

const F = 'panoptic_val2017.json';
const ok = <A>(e: E.Either<string, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left);
  return e.right;
};

// Segment 5 is (R, G, B) = (5, 0, 0); segment 70000 = 70000 − 65536 = 4464 = 17·256 + 112 → (112, 17, 1).
const S5 = [5, 0, 0];
const S70000 = [112, 17, 1];

function fixture() {
  return {
    images: [
      { id: 1, file_name: 'a.png', width: 3, height: 2 },
      { id: 2, file_name: 'b.png', width: 1, height: 1 },
    ],
    categories: [
      { id: 184, name: 'sky', isthing: 0 },
      { id: 1, name: 'person', isthing: 1 },
    ],
    annotations: [
      {
        image_id: 1,
        file_name: 'a_seg.png',
        segments_info: [
          { id: 5, category_id: 1, iscrowd: 0, bbox: [0, 0, 2, 2], area: 3 },
          { id: 70000, category_id: 184, iscrowd: 0, bbox: [1, 0, 2, 2], area: 2 },
        ],
      },
      { image_id: 2, file_name: 'b_seg.png', segments_info: [] },
    ],
  };
}
type Fixture = ReturnType<typeof fixture>;

const problem = (edit: (f: Fixture) => void): string => {
  const f = fixture();
  edit(f);
  const r = parseCocoPanoptic(f, F);
  if (E.isRight(r)) throw new Error('expected a Left');
  return r.left;
};

describe('COCO panoptic', () => {
  it('decodes segment ids as R + 256·G + 256²·B', () => {
    expect(rgbToSegmentId(S5[0], S5[1], S5[2])).toBe(5);
    expect(rgbToSegmentId(S70000[0], S70000[1], S70000[2])).toBe(70000);
  });

  it('parses segments per image with contiguous labels and thing/stuff flags', () => {
    const ds = ok(parseCocoPanoptic(fixture(), F));
    expect(ds.categories.map((c) => [c.id, c.index, c.isthing])).toEqual([
      [1, 0, true],
      [184, 1, false],
    ]);
    expect(ds.images[0]).toEqual({
      id: 1,
      fileName: 'a.png',
      width: 3,
      height: 2,
      pngName: 'a_seg.png',
      annotationIndex: 0,
      segments: [
        { id: 5, categoryId: 1, label: 0, isthing: true, iscrowd: false, bbox: [0, 0, 2, 2], area: 3 },
        { id: 70000, categoryId: 184, label: 1, isthing: false, iscrowd: false, bbox: [1, 0, 2, 2], area: 2 },
      ],
    });
    expect(ds.images[1].segments).toEqual([]);
  });

  it('reports problems with file and field', () => {
    expect(problem((f) => (f.annotations[0].segments_info[1].category_id = 3))).toBe(
      `${F}: annotations[0].segments_info[1].category_id: no category with id 3`,
    );
    expect(problem((f) => (f.annotations[0].segments_info[1].id = 5))).toBe(
      `${F}: annotations[0].segments_info[1].id: duplicate segment id 5 (also at segments_info[0])`,
    );
    expect(problem((f) => (f.annotations[0].segments_info[0].id = 0))).toBe(
      `${F}: annotations[0].segments_info[0].id: expected an id in [1, 16777215] (0 marks unlabelled pixels), got 0`,
    );
    expect(problem((f) => (f.annotations[0].segments_info[0].bbox = [0, 0, -1, 2]))).toBe(
      `${F}: annotations[0].segments_info[0].bbox: expected [x, y, w, h] with w > 0 and h > 0`,
    );
    expect(problem((f) => (f.annotations[1].image_id = 9))).toBe(`${F}: annotations[1].image_id: no image with id 9`);
    expect(problem((f) => (f.annotations[1].image_id = 1))).toBe(
      `${F}: annotations[1].image_id: second annotation for image 1 (also at annotations[0])`,
    );
    expect(problem((f) => f.annotations.pop())).toBe(`${F}: images[1]: no annotation for image 2`);
    expect(problem((f) => ((f.categories[0] as { isthing: number }).isthing = 2))).toBe(
      `${F}: categories[0].isthing: expected 0 or 1`,
    );
    expect(problem((f) => (f.images = []))).toBe(`${F}: images: dataset has no images`);
  });

  describe('with files', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cm-pan-'));
    const imageDir = path.join(dir, 'val2017');
    const pngDir = path.join(dir, 'panoptic_val2017');
    mkdirSync(imageDir);
    mkdirSync(pngDir);
    const file = path.join(dir, F);
    writeFileSync(file, JSON.stringify(fixture()));
    writeFileSync(path.join(imageDir, 'a.png'), encodePng({ width: 3, height: 2, data: new Uint8Array(18).fill(51) }));
    writeFileSync(path.join(imageDir, 'b.png'), encodePng({ width: 1, height: 1, data: new Uint8Array(3) }));
    // 3×2 segment map: row 0 = 5, 70000, 70000; row 1 = 5, 5, 0 (unlabelled).
    const seg = [S5, S70000, S70000, S5, S5, [0, 0, 0]].flat();
    writeFileSync(path.join(pngDir, 'a_seg.png'), encodePng({ width: 3, height: 2, data: Uint8Array.from(seg) }));

    it('names the first missing PNG', () => {
      expect(readCocoPanoptic(file, { imageDir, pngDir })).toEqual(
        E.left(`${file}: annotations[1].file_name: file not found: ${path.join(pngDir, 'b_seg.png')}`),
      );
    });

    it('loads the segment-id map and the image lazily', () => {
      writeFileSync(
        path.join(pngDir, 'b_seg.png'),
        encodePng({ width: 1, height: 1, data: Uint8Array.from([9, 0, 0]) }),
      );
      const ds = ok(readCocoPanoptic(file, { imageDir, pngDir }));
      const m = ok(ds.loadSegments(ds.images[0]));
      expect([m.height, m.width, Array.from(m.ids)]).toEqual([2, 3, [5, 70000, 70000, 5, 5, 0]]);
      // 51/255·2 − 1 = −0.6
      expect(Array.from(ok(ds.loadImage(ds.images[0], { height: 1, width: 1 })).pixels)).toEqual(
        [-0.6, -0.6, -0.6].map(Math.fround),
      );
      // b_seg.png holds id 9, which image 2's segments_info (empty) does not describe.
      expect(ds.loadSegments(ds.images[1])).toEqual(
        E.left(`${path.join(pngDir, 'b_seg.png')}: segment id 9 (pixel 0, 0) is not in annotations[1].segments_info`),
      );
    });
  });
});
