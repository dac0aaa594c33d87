// cocoEvaluate against numbers printed by pycocotools itself (src/__fixtures__/coco/golden.json), plus hand checks.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { synthCoco } from './bench/coco';
import {
  COCO_IOU_THRESHOLDS,
  COCO_RECALL_THRESHOLDS,
  CocoInputError,
  cocoEvaluate,
  npLinspace,
  type CocoDetection,
  type CocoGroundTruth,
} from './coco-eval';

interface GoldenCase {
  stats?: number[];
  per_category?: Record<string, number>;
  recall?: number[];
  error?: string;
  loadRes_error?: string;
}
interface Golden {
  linspace: { iouThrs: number[]; recThrs: number[] };
  cases: Record<string, GoldenCase>;
  medium: GoldenCase & {
    generator: { images: number; categories: number; detsPerImage: number; seed: number };
    gt_sha256: string;
    dt_sha256: string;
  };
}

const FIXTURES = path.join(__dirname, '__fixtures__', 'coco');
const golden = JSON.parse(readFileSync(path.join(FIXTURES, 'golden.json'), 'utf8')) as Golden;
const load = (name: string): { gt: CocoGroundTruth; dt: CocoDetection[] } => ({
  gt: JSON.parse(readFileSync(path.join(FIXTURES, 'cases', name, 'gt.json'), 'utf8')) as CocoGroundTruth,
  dt: JSON.parse(readFileSync(path.join(FIXTURES, 'cases', name, 'dt.json'), 'utf8')) as CocoDetection[],
});

function expectClose(actual: ArrayLike<number>, expected: readonly number[], what: string): void {
  expect(actual.length).toBe(expected.length);
  const bad = expected.flatMap((e, j) =>
    Math.abs(actual[j] - e) <= 1e-9 ? [] : [`${what}[${j}]: ${actual[j]} vs ${e}`],
  );
  expect(bad).toEqual([]);
}

function expectPerCategory(actual: Map<number, number>, expected: Record<string, number>): void {
  expect([...actual.keys()].map(String)).toEqual(Object.keys(expected).sort((a, b) => Number(a) - Number(b)));
  for (const [id, ap] of actual) expect(Math.abs(ap - expected[String(id)])).toBeLessThanOrEqual(1e-9);
}

describe('cocoEvaluate (pycocotools COCOeval bbox)', () => {
  it('uses the exact doubles of np.linspace for the IoU and recall thresholds', () => {
    expect([...COCO_IOU_THRESHOLDS]).toEqual(golden.linspace.iouThrs); // includes 0.8999999999999999
    expect([...COCO_RECALL_THRESHOLDS]).toEqual(golden.linspace.recThrs);
    expect([...npLinspace(0, 1, 3)]).toEqual([0, 0.5, 1]);
  });

  const names = readdirSync(path.join(FIXTURES, 'cases')).sort();
  it('has a golden entry for every fixture case', () => {
    expect(Object.keys(golden.cases).sort()).toEqual(names);
  });

  for (const name of names.filter((n) => golden.cases[n].stats)) {
    it(`agrees with pycocotools to 1e-9 on '${name}'`, () => {
      const { gt, dt } = load(name);
      const g = golden.cases[name];
      const r = cocoEvaluate(gt, dt);
      expectClose(r.stats, g.stats ?? [], 'stats');
      expectPerCategory(r.perCategory, g.per_category ?? {});
      expectClose(r.recall, g.recall ?? [], 'recall');
    });
  }

  it("rejects a detection for an image outside the GT, as pycocotools' loadRes asserts", () => {
    expect(golden.cases['unknown-image'].error).toMatch(/^AssertionError/);
    const { gt, dt } = load('unknown-image');
    expect(() => cocoEvaluate(gt, dt)).toThrow(
      new CocoInputError('dt', 'field "[1].image_id": image 42 is not in the ground truth'),
    );
  });

  it('evaluates an empty result list as no detections: 0 where there is GT, -1 where there is none', () => {
    // pycocotools' loadRes raises on []; the golden numbers come from COCOeval over an empty results COCO object.
    expect(golden.cases['empty-results'].loadRes_error).toBe('IndexError');
    const r = cocoEvaluate(load('empty-results').gt, []);
    expect(r.stats).toEqual([0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, -1]);
  });

  it('ignores the GT "ignore" field exactly as pycocotools does (it is overwritten by iscrowd)', () => {
    const { gt, dt } = load('ignore-flag');
    const cleared = { ...gt, annotations: gt.annotations.map(({ ignore: _ignore, ...a }) => a) };
    expect(cocoEvaluate(cleared, dt).stats).toEqual(cocoEvaluate(gt, dt).stats);
  });

  it('does not depend on the order of the images and categories lists', () => {
    const { gt, dt } = load('categories');
    const shuffled = { ...gt, images: [...gt.images].reverse(), categories: [...gt.categories].reverse() };
    expect(cocoEvaluate(shuffled, dt).stats).toEqual(cocoEvaluate(gt, dt).stats);
  });

  it('rejects duplicate GT annotation ids', () => {
    const { gt, dt } = load('crowd');
    const dup = { ...gt, annotations: [...gt.annotations, { ...gt.annotations[0] }] };
    expect(() => cocoEvaluate(dup, dt)).toThrow(CocoInputError);
  });

  it('computes a single perfect detection by hand: every setting with GT is 1', () => {
    // One medium GT (area 40·40 = 1600) and one identical detection: IoU 1 at every threshold, recall 1, and precision
    // tp/(tp + fp + np.spacing(1)) = 1/(1 + 2^-52) at every recall threshold; small and large have no GT (-1).
    const gt: CocoGroundTruth = {
      images: [{ id: 1 }],
      categories: [{ id: 3 }],
      annotations: [{ id: 1, image_id: 1, category_id: 3, bbox: [0, 0, 40, 40], area: 1600, iscrowd: 0 }],
    };
    const r = cocoEvaluate(gt, [{ image_id: 1, category_id: 3, bbox: [0, 0, 40, 40], score: 0.1 }]);
    const p = 1 / (1 + Number.EPSILON);
    expectClose(r.stats, [p, p, p, -1, p, -1, 1, 1, 1, -1, 1, -1], 'stats');
    expect(r.stats[0]).toBeLessThan(1);
    expectClose([r.perCategory.get(3) ?? NaN], [p], 'perCategory');
  });

  it('agrees with pycocotools to 1e-9 on the randomised medium case (200 images, 10 categories, 20k detections)', () => {
    const { gt, dt } = synthCoco(golden.medium.generator);
    const sha = (v: unknown): string => createHash('sha256').update(JSON.stringify(v)).digest('hex');
    // The golden numbers were computed on exactly these bytes; a generator change must regenerate them.
    expect([sha(gt), sha(dt)]).toEqual([golden.medium.gt_sha256, golden.medium.dt_sha256]);
    const r = cocoEvaluate(gt, dt);
    expectClose(r.stats, golden.medium.stats ?? [], 'stats');
    expectPerCategory(r.perCategory, golden.medium.per_category ?? {});
  });
});
