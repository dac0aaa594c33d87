import { panopticClasses } from './classes';
import { enlarge, imageGrid, renderSegments } from './render';
import { SCENE_CATEGORIES } from './scenes';

const classes = panopticClasses(SCENE_CATEGORIES);
const px = (img: { width: number; data: Uint8Array }, x: number, y: number): number[] =>
  Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

describe('renderSegments', () => {
  // 3×2: stuff 9 on the left column, square 5 in the middle, void on the right.
  const map = {
    width: 3,
    height: 2,
    ids: Uint32Array.from([9, 5, 0, 9, 5, 0]),
    segments: [
      { id: 5, category_id: 1 },
      { id: 9, category_id: 12 },
    ],
  };

  it('fills void black and outlines segment borders white', () => {
    const img = renderSegments(map, classes);
    expect(px(img, 0, 0)).toEqual([255, 255, 255]); // its right neighbour differs
    expect(px(img, 1, 1)).toEqual([255, 255, 255]);
    expect(px(img, 2, 1)).toEqual([0, 0, 0]);
  });

  it('gives stuff and things different colours without outlines', () => {
    const img = renderSegments(map, classes, false);
    expect(px(img, 0, 0)).not.toEqual(px(img, 1, 0));
    expect(px(img, 0, 0)).toEqual(px(img, 0, 1));
    expect(px(img, 2, 0)).toEqual([0, 0, 0]);
  });
});

describe('enlarge and imageGrid', () => {
  it('enlarge repeats pixels; the grid places cells between gaps', () => {
    const a = { width: 1, height: 1, data: Uint8Array.from([10, 20, 30]) };
    const big = enlarge(a, 2);
    expect(big.width).toBe(2);
    expect(px(big, 1, 1)).toEqual([10, 20, 30]);
    const g = imageGrid([[big, big], [big]], 1);
    expect([g.width, g.height]).toEqual([7, 7]);
    expect(px(g, 1, 1)).toEqual([10, 20, 30]);
    expect(px(g, 4, 2)).toEqual([10, 20, 30]);
    expect(px(g, 0, 0)).toEqual([64, 64, 64]);
    expect(px(g, 4, 4)).toEqual([64, 64, 64]); // row 2 has one cell
  });
});
