// Golden cases (__fixtures__/two-channel-golden.json): the output of panopticapi's own converter, github.com/
// cocodataset/panopticapi converters/2channels2panoptic_coco_format.py (convert_single_core, with the IdGenerator of
// panopticapi/utils.py) at commit 7bb4655548f98f3fedc07bf37e9040a992b054b0, run on two-channel PNGs of the maps it
// lists (category id in channel 0, instance id in channel 1). Its segments are recorded as a partition numbered by
// first pixel, so the fixture does not depend on the IdGenerator's random thing colours.
import { Rng } from '@reward-tune/core-model';
import { isThingClass, panopticClasses } from './classes';
import { SCENE_CATEGORIES } from './scenes';
import { segmentsFromTwoChannel } from './segments';
import type { TwoChannelMap } from './two-channel';
import golden from './__fixtures__/two-channel-golden.json';

// Semantic indices: square 1, disc 2, triangle 3 (things); gradient 4, grain 5, stripes 6 (stuff, ids 11, 12, 13).
const classes = panopticClasses(SCENE_CATEGORIES);

const map = (width: number, sem: number[][], ins: number[][]): TwoChannelMap => ({
  width,
  height: sem.length,
  semantics: Int32Array.from(sem.flat()),
  instances: Int32Array.from(ins.flat()),
});
const rowsOf = (a: Uint32Array, w: number): number[][] =>
  Array.from({ length: a.length / w }, (_, r) => Array.from(a.subarray(r * w, (r + 1) * w)));

/**
 * panopticapi's converter, transcribed step by step (2channels2panoptic_coco_format.py): pan = 1000·sem + ins,
 * np.unique order, skip sem 0, IdGenerator gives a stuff category one fixed id and a thing a new one per pair.
 * Returns the segment index of each pixel (−1 = void) numbered by first use, and each segment's category.
 */
function converterReference(m: TwoChannelMap): { partition: number[]; categories: number[] } {
  const pan = Array.from(m.semantics, (s, p) => 1000 * s + m.instances[p]);
  const unique = [...new Set(pan)].sort((a, b) => a - b);
  const out = new Array<number>(pan.length).fill(-1);
  const stuffId = new Map<number, number>();
  let next = 0;
  const category: number[] = [];
  for (const el of unique) {
    const sem = Math.floor(el / 1000);
    if (sem === 0) continue;
    const cat = classes.categories[sem - 1];
    let id: number;
    if (isThingClass(cat)) id = next++;
    else if (stuffId.has(cat.id)) id = stuffId.get(cat.id)!;
    else stuffId.set(cat.id, (id = next++));
    category[id] = cat.id;
    pan.forEach((v, p) => {
      if (v === el) out[p] = id;
    });
  }
  return canonical(out, category);
}

/** A partition relabelled by first pixel, so that two id schemes compare equal when they group pixels alike. */
function canonical(
  ids: ArrayLike<number>,
  cat: number[] | ((id: number) => number),
): { partition: number[]; categories: number[] } {
  const relabel = new Map<number, number>();
  const categories: number[] = [];
  const partition = Array.from(ids, (id) => {
    if (id < 0) return -1;
    let r = relabel.get(id);
    if (r === undefined) {
      relabel.set(id, (r = relabel.size));
      categories.push(typeof cat === 'function' ? cat(id) : cat[id]);
    }
    return r;
  });
  return { partition, categories };
}

describe('segmentsFromTwoChannel (panopticapi two-channel converter)', () => {
  it('merges stuff pieces, keeps void, keeps a split thing one segment and two instances of a class apart', () => {
    const m = map(
      4,
      [
        [4, 4, 0, 1],
        [5, 1, 1, 4],
        [4, 4, 2, 1],
      ],
      [
        [0, 3, 4, 2],
        [1, 2, 7, 0],
        [9, 9, 5, 2],
      ],
    );
    const s = segmentsFromTwoChannel(m, classes);
    // Pairs in order: (1,2) (1,7) (2,5) (4,0) (4,3) (4,9) (5,1). Gradient (4) pieces 0, 3 and 9 are one segment; the
    // square with id 2 is one segment in three pieces; square 7 is another; sem 0 is void whatever its id.
    expect(s.segments).toEqual([
      { id: 1, category_id: 1 },
      { id: 2, category_id: 1 },
      { id: 3, category_id: 2 },
      { id: 4, category_id: 11 },
      { id: 5, category_id: 12 },
    ]);
    expect(rowsOf(s.ids, 4)).toEqual([
      [4, 4, 0, 1],
      [5, 1, 2, 4],
      [4, 4, 3, 1],
    ]);
  });

  it('splits one instance id that carries two classes into one segment per (class, id)', () => {
    const s = segmentsFromTwoChannel(map(3, [[1, 2, 4]], [[2, 2, 2]]), classes);
    expect(s.segments).toEqual([
      { id: 1, category_id: 1 },
      { id: 2, category_id: 2 },
      { id: 3, category_id: 11 },
    ]);
    expect(Array.from(s.ids)).toEqual([1, 2, 3]);
  });

  it('gives an all-void map no segment', () => {
    const s = segmentsFromTwoChannel(map(2, [[0, 0]], [[0, 5]]), classes);
    expect(s.segments).toEqual([]);
    expect(Array.from(s.ids)).toEqual([0, 0]);
  });

  it('groups pixels exactly as the transcribed converter does on random maps', () => {
    const rng = Rng.fromSeed(11);
    for (let t = 0; t < 200; t++) {
      const W = 1 + rng.int(6),
        H = 1 + rng.int(6);
      const sem = Array.from({ length: H }, () => Array.from({ length: W }, () => rng.int(7)));
      const ins = Array.from({ length: H }, () => Array.from({ length: W }, () => rng.int(4)));
      const m = map(W, sem, ins);
      const s = segmentsFromTwoChannel(m, classes);
      const catOf = new Map(s.segments.map((g) => [g.id, g.category_id]));
      const ours = canonical(
        Array.from(s.ids, (id) => (id === 0 ? -1 : id)),
        (id: number) => catOf.get(id)!,
      );
      expect(ours).toEqual(converterReference(m));
      expect(new Set(s.segments.map((g) => g.id)).size).toBe(s.segments.length);
    }
  });

  it('refuses an unknown semantic label and mismatched channels', () => {
    expect(() => segmentsFromTwoChannel(map(2, [[1, 7]], [[0, 0]]), classes)).toThrow(/unknown semantic label 7/);
    expect(() =>
      segmentsFromTwoChannel(
        { width: 2, height: 1, semantics: new Int32Array(2), instances: new Int32Array(1) },
        classes,
      ),
    ).toThrow(RangeError);
  });
});

describe('segmentsFromTwoChannel against panopticapi golden cases', () => {
  it('has golden cases to check', () => expect(golden.cases.length).toBeGreaterThanOrEqual(10));

  describe.each(golden.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const m = map(c.width, c.semantics, c.instances);
    const s = segmentsFromTwoChannel(m, classes);
    const catOf = new Map(s.segments.map((g) => [g.id, g.category_id]));
    const ours = canonical(
      Array.from(s.ids, (id) => (id === 0 ? -1 : id)),
      (id: number) => catOf.get(id)!,
    );
    const numbered = new Map<number, number>(); // our segment id → its number in the golden partition
    s.ids.forEach((id, p) => {
      if (id !== 0 && !numbered.has(id)) numbered.set(id, ours.partition[p]);
    });

    it('groups the pixels into the same segments, void included', () => {
      expect(ours.partition).toEqual(c.partition.flat());
    });

    it("gives each segment the converter's category", () => {
      expect(ours.categories).toEqual(c.categories);
    });

    it("lists one segment per id, no empty one, in the order of the converter's segments_info", () => {
      // The converter appends a segments_info entry per (class, instance id) pair, so a stuff class in several
      // pairs repeats its entry; ours lists it once, where its first pair stands.
      const firstSeen = c.segmentsInfo.filter((k, i) => c.segmentsInfo.indexOf(k) === i);
      expect(s.segments.map((g) => numbered.get(g.id))).toEqual(firstSeen);
      expect(new Set(s.segments.map((g) => g.id)).size).toBe(s.segments.length);
    });
  });
});
