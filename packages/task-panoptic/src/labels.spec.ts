import { panopticClasses } from './classes';
import { NO_INSTANCE, labelWeights, panopticLabels, type PanopticTruth } from './labels';
import { SCENE_CATEGORIES, sceneAt } from './scenes';

// Semantic indices of the scene categories (sorted by id): square 1, disc 2, triangle 3, gradient 4, grain 5,
// stripes 6.
const classes = panopticClasses(SCENE_CATEGORIES);

const grid = (rows: number[][]): Uint32Array => Uint32Array.from(rows.flat());
const rowsOf = (a: Int32Array, w: number): number[][] =>
  Array.from({ length: a.length / w }, (_, r) => Array.from(a.subarray(r * w, (r + 1) * w)));

// 4×4: stuff 7 (gradient) top left, square 9 top right, disc 5 bottom left, square 3 bottom right, one void pixel.
const truth: PanopticTruth = {
  width: 4,
  height: 4,
  ids: grid([
    [7, 7, 9, 9],
    [7, 7, 9, 9],
    [5, 5, 0, 3],
    [5, 5, 3, 3],
  ]),
  segments: [
    { id: 3, category_id: 1 },
    { id: 5, category_id: 2 },
    { id: 7, category_id: 11 },
    { id: 9, category_id: 1 },
  ],
};

describe('panopticLabels (UViM two-channel labels)', () => {
  it('gives classes 1..K by sorted category id and ids 1..n in centroid raster order, stuff included', () => {
    const l = panopticLabels(truth, classes, 16);
    expect(classes.semanticOf.get(11)).toBe(4);
    expect(rowsOf(l.semantics, 4)).toEqual([
      [4, 4, 1, 1],
      [4, 4, 1, 1],
      [2, 2, 0, 1],
      [2, 2, 1, 1],
    ]);
    // Centroid keys cx + H·cy: segment 7 → 2.5, 9 → 4.5, 5 → 10.5, 3 → 13.3.
    expect(rowsOf(l.instances, 4)).toEqual([
      [1, 1, 2, 2],
      [1, 1, 2, 2],
      [3, 3, 0, 4],
      [3, 3, 4, 4],
    ]);
    expect(l.numSegments).toBe(4);
  });

  it('drops ids that do not fit the instance head from the instance target only', () => {
    const l = panopticLabels(truth, classes, 4); // ids 0..3
    expect(rowsOf(l.instances, 4)[3]).toEqual([3, 3, NO_INSTANCE, NO_INSTANCE]);
    expect(rowsOf(l.semantics, 4)[3]).toEqual([2, 2, 1, 1]);
  });

  it('sorts by cx + H·cy as big_vision make_canonical does (H, not W, on a wide image)', () => {
    // 6×2: A at (0, 1) has key 0 + 2·1 = 2; B over x 4..5 of row 0 has key 4.5. With W·cy, A's key would be 6.
    const wide: PanopticTruth = {
      width: 6,
      height: 2,
      ids: grid([
        [0, 0, 0, 0, 2, 2],
        [1, 0, 0, 0, 0, 0],
      ]),
      segments: [
        { id: 1, category_id: 2 },
        { id: 2, category_id: 3 },
      ],
    };
    const l = panopticLabels(wide, classes, 16);
    expect(l.instances[6]).toBe(1);
    expect(l.instances[4]).toBe(2);
  });

  it('numbers a stuff class in two pieces as one segment, by its joint centroid', () => {
    const l = panopticLabels(
      {
        width: 3,
        height: 3,
        ids: grid([
          [4, 4, 4],
          [8, 8, 8],
          [4, 4, 4],
        ]),
        segments: [
          { id: 4, category_id: 12 },
          { id: 8, category_id: 13 },
        ],
      },
      classes,
      16,
    );
    // Both centroids are (1, 1): ties go to the segment whose first pixel comes first.
    expect(rowsOf(l.instances, 3)).toEqual([
      [1, 1, 1],
      [2, 2, 2],
      [1, 1, 1],
    ]);
  });

  it('labels every non-void pixel of a generated scene, ids 1..n', () => {
    for (let i = 0; i < 10; i++) {
      const s = sceneAt(0, 'train', i, { size: 32 });
      const l = panopticLabels(s, classes, 16);
      expect(l.numSegments).toBe(s.segments.length);
      for (let p = 0; p < s.ids.length; p++) {
        expect(l.semantics[p] === 0).toBe(s.ids[p] === 0);
        expect(l.instances[p] === 0).toBe(s.ids[p] === 0);
      }
      expect(new Set(l.instances)).toEqual(
        new Set([...(s.ids.includes(0) ? [0] : []), ...Array.from({ length: s.segments.length }, (_, k) => k + 1)]),
      );
    }
  });

  it('refuses a pixel id no segment has and an unknown category', () => {
    expect(() => panopticLabels({ ...truth, segments: truth.segments.slice(1) }, classes, 16)).toThrow(/segment id 3/);
    expect(() =>
      panopticLabels({ ...truth, segments: [...truth.segments.slice(1), { id: 3, category_id: 99 }] }, classes, 16),
    ).toThrow(/unknown category_id 99/);
  });
});

describe('labelWeights', () => {
  it('weights thing pixels (×5 by default), stuff and void 1', () => {
    const l = panopticLabels(truth, classes, 16);
    expect(rowsOf(Int32Array.from(labelWeights(l, classes)), 4)).toEqual([
      [1, 1, 5, 5],
      [1, 1, 5, 5],
      [5, 5, 1, 5],
      [5, 5, 5, 5],
    ]);
    expect(Array.from(labelWeights(l, classes, 3).subarray(0, 4))).toEqual([1, 1, 3, 3]);
  });
});
