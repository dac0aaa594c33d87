import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { encodePng, readImage } from '@reward-tune/core-model';
import { panopticClasses } from './classes';
import {
  ensureSyntheticPanoptic,
  loadPanopticExample,
  loadPanopticSplit,
  loadPanopticTruth,
  panopticSplitPaths,
  resizeTruth,
  segmentIdsToRgb,
  type SyntheticPanopticOptions,
} from './dataset';
import { panopticLabels } from './labels';
import { SCENE_CATEGORIES, sceneAt } from './scenes';

const ok = <A>(e: E.Either<string, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left);
  return e.right;
};
const left = <A>(e: E.Either<string, A>): string => {
  if (E.isRight(e)) throw new Error('expected a Left');
  return e.left;
};

const OPTS: SyntheticPanopticOptions = { seed: 4, train: 5, val: 3, test: 3, size: 16 };
const tmp = (): string => mkdtempSync(path.join(tmpdir(), 'panoptic-'));

describe('the synthetic dataset on disk', () => {
  const root = tmp();
  const dir = path.join(root, 'data');
  beforeAll(() => {
    expect(ok(ensureSyntheticPanoptic(dir, OPTS))).toBe(true);
  });

  it('writes COCO panoptic JSON, segment PNGs and images for train, val and test', () => {
    expect(readdirSync(dir).sort()).toEqual([
      'panoptic_test',
      'panoptic_test.json',
      'panoptic_train',
      'panoptic_train.json',
      'panoptic_val',
      'panoptic_val.json',
      'synthetic.json',
      'test',
      'train',
      'val',
    ]);
    expect(readdirSync(path.join(dir, 'val')).sort()).toEqual(['000001.png', '000002.png', '000003.png']);
    const json = JSON.parse(readFileSync(path.join(dir, 'panoptic_val.json'), 'utf8'));
    expect(json.categories).toEqual(
      SCENE_CATEGORIES.map((c) => ({
        id: c.id,
        name: c.name,
        supercategory: c.supercategory,
        isthing: c.isthing,
        color: c.color,
      })),
    );
    expect(json.images[0]).toEqual({ id: 1, file_name: '000001.png', width: 16, height: 16 });
    expect(Object.keys(json.annotations[0].segments_info[0]).sort()).toEqual([
      'area',
      'bbox',
      'category_id',
      'id',
      'iscrowd',
    ]);
    // Nothing left beside it.
    expect(readdirSync(root)).toEqual(['data']);
  });

  it('round-trips through the COCO panoptic reader: the same images, segment ids and segments', () => {
    for (const split of ['train', 'val', 'test'] as const) {
      const ds = ok(loadPanopticSplit(dir, split));
      expect(ds.images.length).toBe(OPTS[split]);
      expect(ds.categories.map((c) => [c.id, c.isthing])).toEqual(SCENE_CATEGORIES.map((c) => [c.id, c.isthing === 1]));
      ds.images.forEach((record, i) => {
        const scene = sceneAt(OPTS.seed, split, i, { size: 16 });
        const truth = ok(loadPanopticTruth(ds, record));
        expect(Array.from(truth.ids)).toEqual(Array.from(scene.ids));
        expect(truth.segments).toEqual(
          scene.segments.map((s) => ({ id: s.id, category_id: s.category_id, iscrowd: s.iscrowd, isthing: s.isthing })),
        );
        expect(record.segments.map((s) => [s.area, [...s.bbox]])).toEqual(
          scene.segments.map((s) => [s.area, [...s.bbox]]),
        );
        const rgb = ok(readImage(path.join(dir, split, record.fileName)));
        expect(Buffer.from(rgb.data).equals(Buffer.from(scene.rgb))).toBe(true);
      });
    }
  });

  it('gives the model image in [−1, 1] and labels from the ground truth read back', () => {
    const ds = ok(loadPanopticSplit(dir, 'train'));
    const ex = ok(loadPanopticExample(ds, ds.images[0], { height: 16, width: 16 }));
    expect(ex.image.pixels.length).toBe(16 * 16 * 3);
    expect(Math.min(...ex.image.pixels)).toBeGreaterThanOrEqual(-1);
    const classes = panopticClasses(ds.categories);
    const l = panopticLabels(ex.truth, classes, 16);
    expect(l.numSegments).toBe(ex.truth.segments.length);
  });

  it('is reused when synthetic.json records the same options, rewritten when they differ', () => {
    expect(ok(ensureSyntheticPanoptic(dir, OPTS))).toBe(false);
    const other = path.join(root, 'other');
    ok(ensureSyntheticPanoptic(other, OPTS));
    expect(ok(ensureSyntheticPanoptic(other, { ...OPTS, val: 2 }))).toBe(true);
    expect(readdirSync(path.join(other, 'val'))).toHaveLength(2);
    expect(JSON.parse(readFileSync(path.join(other, 'synthetic.json'), 'utf8')).options.val).toBe(2);
    expect(readdirSync(root).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('refuses a directory that holds something else, and bad split sizes', () => {
    const mine = path.join(root, 'mine');
    mkdirSync(mine);
    writeFileSync(path.join(mine, 'notes.txt'), 'keep me');
    expect(left(ensureSyntheticPanoptic(mine, OPTS))).toBe(
      `${mine}: exists and is not a synthetic panoptic dataset (no synthetic.json); choose another directory`,
    );
    expect(readFileSync(path.join(mine, 'notes.txt'), 'utf8')).toBe('keep me');
    expect(left(ensureSyntheticPanoptic(path.join(root, 'x'), { ...OPTS, val: -1 }))).toMatch(
      /val must be a non-negative integer/,
    );
  });

  it('reports a write the file system refuses in one line', () => {
    const file = path.join(root, 'a-file');
    writeFileSync(file, '');
    const target = path.join(file, 'data');
    expect(left(ensureSyntheticPanoptic(target, OPTS))).toMatch(
      new RegExp(`^${target.replace(/[.]/g, '\\.')}: cannot write the synthetic panoptic dataset \\(E[A-Z]+\\)$`),
    );
  });

  it('leaves nothing behind when the write is interrupted', () => {
    const parent = tmp();
    const target = path.join(parent, 'data');
    expect(() =>
      ensureSyntheticPanoptic(target, OPTS, (done) => {
        if (done === 7) throw new Error('interrupted');
      }),
    ).toThrow('interrupted');
    // The temp folder is removed on the way out too.
    expect(readdirSync(parent)).toEqual([]);
  });
});

describe('panopticSplitPaths', () => {
  it('finds the COCO 2017 layout, the segment PNGs at the top or under annotations/', () => {
    const d = tmp();
    mkdirSync(path.join(d, 'annotations', 'panoptic_val2017'), { recursive: true });
    writeFileSync(path.join(d, 'annotations', 'panoptic_val2017.json'), '{}');
    expect(ok(panopticSplitPaths(d, 'val'))).toEqual({
      annotations: path.join(d, 'annotations', 'panoptic_val2017.json'),
      pngs: path.join(d, 'annotations', 'panoptic_val2017'),
      images: path.join(d, 'val2017'),
    });
    mkdirSync(path.join(d, 'panoptic_val2017'));
    expect(ok(panopticSplitPaths(d, 'val')).pngs).toBe(path.join(d, 'panoptic_val2017'));
    expect(left(panopticSplitPaths(d, 'test'))).toBe(
      `${d}: no test split (expected ${path.join(d, 'panoptic_test.json')} or ${path.join(d, 'annotations', 'panoptic_test2017.json')})`,
    );
  });
});

describe('bad panoptic input: one line naming the file and the field', () => {
  /** A fresh copy of a small written dataset, to damage. */
  const damaged = (): string => {
    const d = path.join(tmp(), 'data');
    ok(ensureSyntheticPanoptic(d, { seed: 1, train: 0, val: 2, test: 0, size: 16 }));
    return d;
  };
  const jsonOf = (d: string) => path.join(d, 'panoptic_val.json');

  it('a PNG id that no segment in the JSON has', () => {
    const d = damaged();
    const ds = ok(loadPanopticSplit(d, 'val'));
    const scene = sceneAt(1, 'val', 1, { size: 16 });
    const ids = Uint32Array.from(scene.ids);
    ids[16 * 3 + 2] = 4242; // pixel (2, 3)
    writeFileSync(
      path.join(d, 'panoptic_val', '000002.png'),
      encodePng({ width: 16, height: 16, data: segmentIdsToRgb(ids) }),
    );
    expect(left(loadPanopticTruth(ds, ds.images[1]))).toBe(
      `${path.join(d, 'panoptic_val', '000002.png')}: segment id 4242 (pixel 2, 3) is not in annotations[1].segments_info`,
    );
  });

  it('a segment in the JSON with no pixels', () => {
    const d = damaged();
    const json = JSON.parse(readFileSync(jsonOf(d), 'utf8'));
    json.annotations[1].segments_info.push({ id: 777, category_id: 2, area: 10, bbox: [0, 0, 2, 5], iscrowd: 0 });
    const k = json.annotations[1].segments_info.length - 1;
    writeFileSync(jsonOf(d), JSON.stringify(json));
    const ds = ok(loadPanopticSplit(d, 'val'));
    expect(ok(loadPanopticTruth(ds, ds.images[0])).segments.length).toBeGreaterThan(0);
    expect(left(loadPanopticTruth(ds, ds.images[1]))).toBe(
      `${jsonOf(d)}: annotations[1].segments_info[${k}]: segment 777 has no pixels in ${path.join(d, 'panoptic_val', '000002.png')}`,
    );
  });

  it('an unknown category id', () => {
    const d = damaged();
    const json = JSON.parse(readFileSync(jsonOf(d), 'utf8'));
    json.annotations[0].segments_info[1].category_id = 5;
    writeFileSync(jsonOf(d), JSON.stringify(json));
    expect(left(loadPanopticSplit(d, 'val'))).toBe(
      `${jsonOf(d)}: annotations[0].segments_info[1].category_id: no category with id 5`,
    );
  });

  it('a missing segment PNG', () => {
    const d = damaged();
    const png = path.join(d, 'panoptic_val', '000001.png');
    writeFileSync(png, ''); // an empty file is not a PNG
    const ds = ok(loadPanopticSplit(d, 'val'));
    expect(left(loadPanopticTruth(ds, ds.images[0]))).toMatch(new RegExp(`^${png.replace(/[.]/g, '\\.')}: `));
    expect(existsSync(png)).toBe(true);
  });
});

describe('resizeTruth', () => {
  it('resizes ids by nearest neighbour and drops segments that vanish', () => {
    const truth = {
      width: 4,
      height: 2,
      ids: Uint32Array.from([1, 1, 2, 3, 1, 1, 2, 2]),
      segments: [1, 2, 3].map((id) => ({ id, category_id: 11, iscrowd: 0, isthing: false })),
    };
    const r = resizeTruth(truth, { height: 1, width: 2 });
    // Output pixel o reads source floor((o + 0.5)·2): columns 1 and 3 of row 1.
    expect(Array.from(r.ids)).toEqual([1, 2]);
    expect(r.segments.map((s) => s.id)).toEqual([1, 2]);
  });
});
