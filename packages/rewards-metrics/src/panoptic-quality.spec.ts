// Panoptic Quality: golden agreement with panopticapi's pq_compute on the fixtures (src/__fixtures__/pq, see its
// README.md), and hand-computed cases for each matching rule and each input problem.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { PNG } from 'pngjs';
import {
  imagePq,
  imagePqGain,
  imagePqGainMap,
  panopticImageStats,
  PqAccumulator,
  pqCompute,
  rgbToSegmentIds,
  type PanopticImage,
  type PanopticSegment,
  type PqCategory,
  type PqResult,
} from './panoptic-quality';

const fixtures = path.join(__dirname, '__fixtures__', 'pq');

interface Ann {
  image_id: number;
  file_name: string;
  segments_info: PanopticSegment[];
}
interface Expected extends PqResult {
  per_image: Record<
    string,
    {
      All: { pq: number; sq: number; rq: number; n: number } | null;
      stats: Record<string, { iou: number; tp: number; fp: number; fn: number }>;
    }
  >;
}

const readJson = <T>(f: string): T => JSON.parse(readFileSync(path.join(fixtures, f), 'utf8')) as T;

function loadImage(dir: string, ann: Ann): PanopticImage {
  const png = PNG.sync.read(readFileSync(path.join(fixtures, dir, ann.file_name)));
  return {
    width: png.width,
    height: png.height,
    ids: rgbToSegmentIds({ ...png, channels: 4 }),
    segments: ann.segments_info,
  };
}

const gtJson = readJson<{ annotations: Ann[]; categories: (PqCategory & { name: string })[] }>('gt.json');
const predJson = readJson<{ annotations: Ann[] }>('pred.json');
const expected = readJson<Expected>('expected.json');
const categories = gtJson.categories;
const pairs: [number, PanopticImage, PanopticImage][] = gtJson.annotations.map((g) => {
  const p = predJson.annotations.find((a) => a.image_id === g.image_id)!;
  return [g.image_id, loadImage('gt', g), loadImage('pred', p)];
});

const TOL = 1e-9;
function expectScores(actual: Record<string, number>, wanted: Record<string, number>): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(wanted).sort());
  for (const k of Object.keys(wanted)) {
    if (k === 'n') expect(actual.n).toBe(wanted.n);
    else expect(Math.abs(actual[k] - wanted[k])).toBeLessThan(TOL);
  }
}

describe('pqCompute against panopticapi pq_compute (golden)', () => {
  const result = pqCompute(
    pairs.map(([, g, p]) => [g, p] as const),
    categories,
  );

  it.each(['All', 'Things', 'Stuff'] as const)('%s pq/sq/rq/n agree to 1e-9', (name) => {
    expectScores({ ...result[name] }, { ...expected[name] });
  });

  it('per-class pq/sq/rq agree to 1e-9, zeros for the category nobody used', () => {
    expect(Object.keys(result.per_class).sort()).toEqual(Object.keys(expected.per_class).sort());
    for (const [id, want] of Object.entries(expected.per_class)) expectScores({ ...result.per_class[id] }, { ...want });
    expect(result.per_class['19']).toEqual({ pq: 0, sq: 0, rq: 0 });
  });

  it.each(pairs.map(([id]) => id))('image %i: per-category counts and per-image PQ agree', (id) => {
    const [, gt, pred] = pairs.find(([i]) => i === id)!;
    const stats = panopticImageStats(gt, pred, categories);
    if (E.isLeft(stats)) throw new Error(stats.left.message);
    const want = expected.per_image[String(id)];
    const got = [...stats.right].filter(([, s]) => s.tp + s.fp + s.fn > 0);
    expect(got.map(([c]) => String(c)).sort()).toEqual(
      Object.keys(want.stats)
        .filter((c) => want.stats[c].tp + want.stats[c].fp + want.stats[c].fn > 0)
        .sort(),
    );
    for (const [cat, s] of got) {
      const w = want.stats[String(cat)];
      expect([s.tp, s.fp, s.fn]).toEqual([w.tp, w.fp, w.fn]);
      expect(Math.abs(s.iou - w.iou)).toBeLessThan(TOL);
    }
    // imagePq is panopticapi's All PQ of the one-image dataset; 0 where panopticapi divides by zero (image 4).
    expect(Math.abs(imagePq(gt, pred, categories) - (want.All?.pq ?? 0))).toBeLessThan(TOL);
  });

  it('an accumulator fed image by image, or with precomputed stats, gives the same result', () => {
    const acc = new PqAccumulator(categories);
    const viaStats = new PqAccumulator(categories);
    for (const [, g, p] of pairs) {
      acc.add(g, p);
      viaStats.addStats(E.getOrElseW(() => new Map())(panopticImageStats(g, p, categories)));
    }
    expect(acc.result()).toEqual(result);
    expect(viaStats.result()).toEqual(result);
  });
});

// Tiny hand-made maps: rows of a string grid, one character per pixel ('.' = VOID).
function grid(rows: string[], segs: Record<string, [number, number, number?]>): PanopticImage {
  const height = rows.length;
  const width = rows[0].length;
  const ids = new Uint32Array(width * height);
  const code = (ch: string): number => (ch === '.' ? 0 : ch.charCodeAt(0));
  rows.forEach((r, y) => [...r].forEach((ch, x) => (ids[y * width + x] = code(ch))));
  return {
    width,
    height,
    ids,
    segments: Object.entries(segs).map(([ch, [category_id, , iscrowd]]) => ({
      id: code(ch),
      category_id,
      ...(iscrowd === undefined ? {} : { iscrowd }),
    })),
  };
}
const cats: PqCategory[] = [
  { id: 1, isthing: 1 },
  { id: 2, isthing: true },
  { id: 9, isthing: 0 },
];
const statsOf = (gt: PanopticImage, pred: PanopticImage) => {
  const r = panopticImageStats(gt, pred, cats);
  if (E.isLeft(r)) throw new Error(r.left.message);
  return Object.fromEntries([...r.right].map(([c, s]) => [c, s]));
};

describe('linearised dataset-PQ gain of one image (the project reward)', () => {
  // a (thing 1, 8 px) matched at 5/8; s (stuff 9, 8 px) matched at 6/8; w: a wrong thing (category 2) on s's side.
  const gt = grid(['aaaassss', 'aaaassss'], { a: [1, 0], s: [9, 0] });
  const pred = grid(['ppppssss', 'p...ssww'], { p: [1, 0], s: [9, 0], w: [2, 0] });
  const reference = { things: 0.1, stuff: 0.8 };

  it("is (1/K) Σ_c [Σ IoU − q·(TP + ½FP + ½FN)], each category priced at its kind's reference PQ", () => {
    expect(statsOf(gt, pred)).toEqual({
      1: { iou: 5 / 8, tp: 1, fp: 0, fn: 0 },
      2: { iou: 0, tp: 0, fp: 1, fn: 0 },
      9: { iou: 6 / 8, tp: 1, fp: 0, fn: 0 },
    });
    const want = 5 / 8 - 0.1 + (0 - 0.1 * 0.5) + (6 / 8 - 0.8);
    expect(imagePqGain(gt, pred, cats, reference)).toBeCloseTo(want / 3, 12);
  });

  it("predicts the change of a large dataset's PQ when one image's prediction changes (first order)", () => {
    // Every image: things a (category 1) and b (2), stuff s (9). pred matches all three; other drops b (its pixels
    // go to the stuff segment): category 2 turns from a TP into an FN, s still matches at a lower IoU.
    const g = grid(['aaaabbbb', 'aaaabbbb', 'ssssssss', 'ssssssss'], { a: [1, 0], b: [2, 0], s: [9, 0] });
    const p = grid(['ppppqqqq', 'ppp.qqq.', 'tttttttt', 'tttttttt'], { p: [1, 0], q: [2, 0], t: [9, 0] });
    const other = grid(['pppptttt', 'ppp.tttt', 'tttttttt', 'tttttttt'], { p: [1, 0], t: [9, 0] });
    const m = 2000;
    const pq = (last: PanopticImage) => {
      const acc = new PqAccumulator(cats);
      for (let i = 0; i < m - 1; i++) acc.add(g, p);
      acc.add(g, last);
      return acc.result();
    };
    const before = pq(p);
    // Things 1 and 2 stand at the same PQ (7/8 each), stuff at 1: the per-kind reference is each category's PQ.
    expect(before.per_class['1'].pq).toBeCloseTo(7 / 8, 12);
    expect(before.per_class['2'].pq).toBeCloseTo(7 / 8, 12);
    const ref = { things: 7 / 8, stuff: before.per_class['9'].pq };
    // Each category's D is 1 per image, so m·ΔPQ ≈ the gains' difference.
    const predicted = imagePqGain(g, other, cats, ref) - imagePqGain(g, p, cats, ref);
    const actual = m * (pq(other).All.pq - before.All.pq);
    expect(predicted).toBeLessThan(-0.1); // dropping a matched thing is a clear loss
    expect(Math.abs(actual - predicted)).toBeLessThan(0.01 * Math.abs(predicted));
  });

  it('splits over the pixels: each term spread over its own segments, half a match to each side', () => {
    const { gain, pixels: map } = imagePqGainMap(gt, pred, cats, reference);
    expect(gain).toBe(imagePqGain(gt, pred, cats, reference));
    const K = 3;
    const a = (5 / 8 - 0.1) / (2 * K); // the thing match, half to a (8 px), half to p (5 px)
    const s = (6 / 8 - 0.8) / (2 * K); // the stuff match: GT s 8 px, predicted s 6 px
    const w = -0.1 / 2 / K; // the false thing w, 2 px
    const want = [
      ...[0, 1, 2, 3].map(() => a / 8 + a / 5),
      ...[4, 5, 6, 7].map(() => s / 8 + s / 6),
      a / 8 + a / 5,
      ...[1, 2, 3].map(() => a / 8), // predicted VOID: only the GT side
      s / 8 + s / 6,
      s / 8 + s / 6,
      s / 8 + w / 2,
      s / 8 + w / 2,
    ];
    expect(map).toHaveLength(16);
    map.forEach((v, i) => expect(v).toBeCloseTo(want[i], 12));
    expect(map.reduce((x, y) => x + y, 0)).toBeCloseTo(imagePqGain(gt, pred, cats, reference), 12);
  });

  it('gives a missed segment its −q/2 on its own pixels, and sums to the gain on the dataset test case', () => {
    const g = grid(['aaaabbbb', 'aaaabbbb', 'ssssssss', 'ssssssss'], { a: [1, 0], b: [2, 0], s: [9, 0] });
    const other = grid(['pppptttt', 'ppp.tttt', 'tttttttt', 'tttttttt'], { p: [1, 0], t: [9, 0] });
    const ref = { things: 0.3, stuff: 0.7 };
    const { gain, pixels: map } = imagePqGainMap(g, other, cats, ref);
    expect(gain).toBe(imagePqGain(g, other, cats, ref));
    expect(map.reduce((x, y) => x + y, 0)).toBeCloseTo(imagePqGain(g, other, cats, ref), 12);
    // Pixel (0, 4): GT b missed (8 px) and predicted stuff t (24 px) matched to s (16 px) at IoU 16/24.
    const t = (16 / 24 - 0.7) / 6;
    expect(map[4]).toBeCloseTo(-0.3 / 2 / 3 / 8 + t / 24, 12);
    expect(() => imagePqGainMap(g, grid(['pp'], { p: [1, 0] }), cats, ref)).toThrow(/imagePqGainMap/);
  });

  it('is 0 for two empty maps, and refuses an inconsistent pair', () => {
    const empty = grid(['....'], {});
    expect(imagePqGain(empty, empty, cats, reference)).toBe(0);
    expect(() => imagePqGain(gt, grid(['pp'], { p: [1, 0] }), cats, reference)).toThrow(/imagePqGain/);
  });
});

describe('matching rules (hand-computed)', () => {
  it("removes the prediction's VOID pixels from the union", () => {
    const gt = grid(['aaaa..', 'aaaa..', 'aaaa..', 'aaaa..'], { a: [1, 0] });
    // p: 12 px on a, 8 on VOID → IoU 12 / (20 + 16 − 12 − 8) = 0.75
    const pred = grid(['pppppp', 'pppppp', 'pppppp', '....pp'], { p: [1, 0] });
    expect(statsOf(gt, pred)).toEqual({ 1: { iou: 0.75, tp: 1, fp: 0, fn: 0 } });
    // The same 8 pixels on a stuff segment stay in the union: 12 / 24 = 0.5, no match.
    const gt2 = grid(['aaaass', 'aaaass', 'aaaass', 'aaaass'], { a: [1, 0], s: [9, 0] });
    expect(statsOf(gt2, pred)).toEqual({ 1: { iou: 0, tp: 0, fp: 1, fn: 1 }, 9: { iou: 0, tp: 0, fp: 0, fn: 1 } });
  });

  it('needs IoU strictly above 0.5 and the same category', () => {
    const gt = grid(['aaaa', 'aaaa'], { a: [1, 0] });
    expect(statsOf(gt, grid(['pppp', '....'], { p: [1, 0] }))).toEqual({ 1: { iou: 0, tp: 0, fp: 1, fn: 1 } }); // 4/8
    expect(statsOf(gt, grid(['pppp', 'p...'], { p: [1, 0] }))).toEqual({ 1: { iou: 5 / 8, tp: 1, fp: 0, fn: 0 } });
    expect(statsOf(gt, grid(['pppp', 'pppp'], { p: [2, 0] }))).toEqual({
      1: { iou: 0, tp: 0, fp: 0, fn: 1 },
      2: { iou: 0, tp: 0, fp: 1, fn: 0 },
    });
  });

  it("ignores a prediction more than half on VOID plus its own category's crowd, never one at exactly half", () => {
    // c: crowd of category 1. q: 3 px on the crowd + 1 on VOID + 2 on a (total 6, ignored share 4/6).
    const gt = grid(['ccc.aa', 'aaaaaa'], { c: [1, 0, 1], a: [1, 0] });
    const pred = grid(['qqqqqq', '......'], { q: [1, 0] });
    expect(statsOf(gt, pred)).toEqual({ 1: { iou: 0, tp: 0, fp: 0, fn: 1 } });
    // Same pixels labelled category 2: the crowd is not its own, 1/6 ignored → FP.
    expect(statsOf(gt, grid(['qqqqqq', '......'], { q: [2, 0] }))).toEqual({
      1: { iou: 0, tp: 0, fp: 0, fn: 1 },
      2: { iou: 0, tp: 0, fp: 1, fn: 0 },
    });
    // Exactly half on VOID: r has 2 on VOID, 2 on b → 2/4 is not > 0.5 → FP.
    const gt2 = grid(['..bbbbbb'], { b: [2, 0] });
    expect(statsOf(gt2, grid(['rrrr....'], { r: [2, 0] }))).toEqual({ 2: { iou: 0, tp: 0, fp: 1, fn: 1 } });
  });

  it('never counts a crowd GT as an FN nor matches it', () => {
    const gt = grid(['cccc'], { c: [1, 0, 1] });
    expect(statsOf(gt, grid(['pppp'], { p: [1, 0] }))).toEqual({});
    expect(imagePq(gt, grid(['pppp'], { p: [1, 0] }), cats)).toBe(0);
  });

  it('imagePq averages over the categories present only', () => {
    // a matched with IoU 1 (category 1); stuff s missed (FN): PQ = (1 + 0) / 2; category 2 is absent.
    const gt = grid(['aass'], { a: [1, 0], s: [9, 0] });
    expect(imagePq(gt, grid(['pp..'], { p: [1, 0] }), cats)).toBe(0.5);
    expect(new PqAccumulator(cats).result()).toEqual({
      All: { pq: 0, sq: 0, rq: 0, n: 0 },
      Things: { pq: 0, sq: 0, rq: 0, n: 0 },
      Stuff: { pq: 0, sq: 0, rq: 0, n: 0 },
      per_class: { 1: { pq: 0, sq: 0, rq: 0 }, 2: { pq: 0, sq: 0, rq: 0 }, 9: { pq: 0, sq: 0, rq: 0 } },
    });
  });

  it('uses a sparse table for maps with thousands of segments, with the same rules', () => {
    // 64×64, every pixel its own GT segment (category 1) and its own predicted segment; even pixels keep
    // category 1 (4096/2 TPs with IoU 1), odd ones say category 2 (2048 FNs of 1, 2048 FPs of 2).
    // Category 1: PQ = 2048 / (2048 + 1024) = 2/3; category 2: 0. Mean 1/3.
    const n = 64 * 64;
    const ids = Uint32Array.from({ length: n }, (_, i) => i + 1);
    const gt: PanopticImage = { width: 64, height: 64, ids, segments: [...ids].map((id) => ({ id, category_id: 1 })) };
    const pred: PanopticImage = { ...gt, segments: [...ids].map((id) => ({ id, category_id: id % 2 === 1 ? 1 : 2 })) };
    const s = statsOf(gt, pred);
    expect(s).toEqual({ 1: { iou: 2048, tp: 2048, fp: 0, fn: 2048 }, 2: { iou: 0, tp: 0, fp: 2048, fn: 0 } });
    expect(imagePq(gt, pred, cats)).toBeCloseTo(1 / 3, 12);
  });
});

describe('input problems', () => {
  const gt = grid(['aa..'], { a: [1, 0] });
  const left = (g: PanopticImage, p: PanopticImage) => panopticImageStats(g, p, cats);

  it('names the side and the segment id', () => {
    expect(left(gt, grid(['pq..'], { p: [1, 0] }))).toEqual(
      E.left({ side: 'pred', message: 'segment id 113 is in the PNG but not in segments_info' }),
    );
    expect(left(grid(['ab..'], { a: [1, 0] }), gt)).toEqual(
      E.left({ side: 'gt', message: 'segment id 98 is in the PNG but not in segments_info' }),
    );
    expect(left(gt, grid(['pp..'], { p: [1, 0], q: [1, 0] }))).toEqual(
      E.left({ side: 'pred', message: 'segment id 113 is in segments_info but not in the PNG' }),
    );
    expect(left(gt, grid(['pp..'], { p: [5, 0] }))).toEqual(
      E.left({ side: 'pred', message: 'segment id 112 has unknown category_id 5' }),
    );
    expect(left(grid(['aa..'], { a: [7, 0] }), gt)).toEqual(
      E.left({ side: 'gt', message: 'segment id 97 has unknown category_id 7' }),
    );
    const dup: PanopticImage = { ...gt, segments: [...gt.segments, ...gt.segments] };
    expect(left(dup, gt)).toEqual(E.left({ side: 'gt', message: 'segment id 97 appears twice in segments_info' }));
    const zero: PanopticImage = { ...gt, segments: [...gt.segments, { id: 0, category_id: 1 }] };
    expect(left(gt, zero)).toEqual(E.left({ side: 'pred', message: 'segment id 0 in segments_info (0 is VOID)' }));
    expect(left(gt, grid(['aa.', '...'], { a: [1, 0] }))).toEqual(
      E.left({ side: 'pred', message: "size 3×2 differs from the GT's 4×1" }),
    );
  });

  it('finds unknown ids above and below the small-id lookup table (2^16)', () => {
    const img = (ids: number[], segs: number[]): PanopticImage => ({
      width: ids.length,
      height: 1,
      ids: Uint32Array.from(ids),
      segments: segs.map((id) => ({ id, category_id: 1 })),
    });
    const big = 0x030201;
    expect(left(img([big, big], [big]), img([big + 1, 5], [5]))).toEqual(
      E.left({ side: 'pred', message: `segment id ${big + 1} is in the PNG but not in segments_info` }),
    );
    expect(left(img([big, 7], [big, 7]), img([big, 5], [big]))).toEqual(
      E.left({ side: 'pred', message: 'segment id 5 is in the PNG but not in segments_info' }),
    );
    expect(left(img([big, 7], [big]), img([big, 7], [big, 7]))).toEqual(
      E.left({ side: 'gt', message: 'segment id 7 is in the PNG but not in segments_info' }),
    );
    // Ids on both sides of the bound, categories chosen so that a mixed-up lookup would change the counts:
    // pixel 0: GT big (1) vs pred 65535 (2) → nothing; pixel 1: 65536 (2) vs 65536 (2) → TP; pixel 2: 65535 (1)
    // vs big (1) → TP. Left over: GT big is an FN of 1, pred 65535 an FP of 2.
    const withCats = (ids: number[], segs: [number, number][]): PanopticImage => ({
      width: ids.length,
      height: 1,
      ids: Uint32Array.from(ids),
      segments: segs.map(([id, category_id]) => ({ id, category_id })),
    });
    const gt3 = withCats(
      [big, 65536, 65535],
      [
        [big, 1],
        [65536, 2],
        [65535, 1],
      ],
    );
    const pred3 = withCats(
      [65535, 65536, big],
      [
        [big, 1],
        [65536, 2],
        [65535, 2],
      ],
    );
    expect(statsOf(gt3, pred3)).toEqual({ 1: { iou: 1, tp: 1, fp: 0, fn: 1 }, 2: { iou: 1, tp: 1, fp: 1, fn: 0 } });
  });

  it('throws from the accumulator and imagePq', () => {
    expect(() => imagePq(gt, grid(['pq..'], { p: [1, 0] }), cats)).toThrow(
      'imagePq: prediction: segment id 113 is in the PNG but not in segments_info',
    );
    expect(() => new PqAccumulator(cats).add(grid(['ab..'], { a: [1, 0] }), gt)).toThrow(RangeError);
  });

  it('decodes ids as R + 256·G + 256²·B, ignoring alpha', () => {
    expect([...rgbToSegmentIds({ width: 2, height: 1, channels: 4, data: [1, 2, 3, 0, 255, 255, 255, 9] })]).toEqual([
      1 + 512 + 3 * 65536,
      16777215,
    ]);
    expect([...rgbToSegmentIds({ width: 1, height: 1, channels: 3, data: [0, 0, 1] })]).toEqual([65536]);
  });
});
