// `rewards-metrics pq` through run(): the golden fixtures (numbers printed by panopticapi, see
// src/__fixtures__/pq/README.md) in both output forms, and one input error per kind of bad input.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { InputError } from './io';
import { pyFixed1, run } from './pq';

const fixtures = path.join(__dirname, '..', '__fixtures__', 'pq');
const expected = JSON.parse(readFileSync(path.join(fixtures, 'expected.json'), 'utf8')) as Record<
  string,
  Record<string, Record<string, number>>
>;

function capture(fn: () => number | Promise<number>): { code: number | Promise<number>; out: string } {
  let out = '';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    return { code: fn(), out };
  } finally {
    spy.mockRestore();
  }
}

const argsFor = (dir: string, json = true): string[] => [
  '--gt-json',
  path.join(dir, 'gt.json'),
  '--gt-dir',
  path.join(dir, 'gt'),
  '--pred-json',
  path.join(dir, 'pred.json'),
  '--pred-dir',
  path.join(dir, 'pred'),
  ...(json ? ['--json'] : []),
];

describe('rewards-metrics pq', () => {
  it('--json prints exactly one JSON object that agrees with panopticapi to 1e-9', () => {
    const { code, out } = capture(() => run(argsFor(fixtures)));
    expect(code).toBe(0);
    expect(out.endsWith('\n')).toBe(true);
    expect(out.trim().split('\n')).toHaveLength(1);
    const got = JSON.parse(out) as Record<string, Record<string, Record<string, number> | number>>;
    expect(Object.keys(got)).toEqual(['All', 'Things', 'Stuff', 'per_class']);
    for (const name of ['All', 'Things', 'Stuff']) {
      const g = got[name] as Record<string, number>;
      expect(Object.keys(g).sort()).toEqual(['n', 'pq', 'rq', 'sq']);
      expect(g.n).toBe(expected[name].n);
      for (const m of ['pq', 'sq', 'rq'])
        expect(Math.abs(g[m] - (expected[name][m] as unknown as number))).toBeLessThan(1e-9);
    }
    const perClass = got.per_class as Record<string, Record<string, number>>;
    expect(Object.keys(perClass)).toEqual(['1', '2', '3', '17', '18', '19']);
    for (const [id, want] of Object.entries(expected.per_class)) {
      for (const m of ['pq', 'sq', 'rq']) expect(Math.abs(perClass[id][m] - want[m])).toBeLessThan(1e-9);
    }
  });

  it("without --json prints panopticapi's table, then one line per category", () => {
    const { code, out } = capture(() => run(argsFor(fixtures, false)));
    expect(code).toBe(0);
    const table = readFileSync(path.join(fixtures, 'expected-table.txt'), 'utf8').trimEnd().split('\n');
    const lines = out.split('\n');
    expect(lines.slice(0, 5)).toEqual(table);
    // sky: pq from panopticapi's per_class, as a percentage with one decimal
    const sky = expected.per_class['17'];
    expect(lines).toContain(
      `${'17 sky (stuff)'.padEnd(28)}| ${(100 * sky.pq).toFixed(1).padStart(5)}  ${(100 * sky.sq).toFixed(1).padStart(5)}  ${(100 * sky.rq).toFixed(1).padStart(5)}`,
    );
  });
});

describe('pyFixed1', () => {
  it("rounds like Python's {:.1f}: exact ties to even, everything else to nearest", () => {
    // Python: '{:.1f}'.format(12.25) == '12.2', 12.75 → '12.8', 100 * 0.4725 (= 47.25 exactly) → '47.2'
    expect([12.25, 12.75, 100 * 0.4725, 0.25, 12.3501, 12.26, 0].map(pyFixed1)).toEqual([
      '12.2',
      '12.8',
      '47.2',
      '0.2',
      '12.4',
      '12.3',
      '0.0',
    ]);
  });
});

describe('rewards-metrics pq input errors', () => {
  /** A fresh copy of the fixtures, changed by `edit`; returns the error run() throws. */
  function errorFor(edit: (dir: string) => void, args?: (dir: string) => string[]): InputError {
    const dir = mkdtempSync(path.join(tmpdir(), 'rm-pq-'));
    cpSync(fixtures, dir, { recursive: true });
    edit(dir);
    try {
      capture(() => run(args ? args(dir) : argsFor(dir)));
    } catch (err) {
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).not.toContain('\n');
      return err as InputError;
    }
    throw new Error('run() accepted bad input');
  }
  const editJson = (dir: string, file: string, f: (j: any) => void): void => {
    const p = path.join(dir, file);
    const j = JSON.parse(readFileSync(p, 'utf8'));
    f(j);
    writeFileSync(p, JSON.stringify(j));
  };
  const ann = (j: any, imageId: number): any => j.annotations.find((a: any) => a.image_id === imageId);

  it('a missing flag, a missing file, malformed JSON', () => {
    expect(
      errorFor(
        () => undefined,
        (d) => argsFor(d).slice(2),
      ).message,
    ).toBe('missing required option --gt-json');
    expect(
      errorFor(
        (d) => writeFileSync(path.join(d, 'x'), ''),
        (d) => argsFor(d).map((a) => a.replace('pred.json', 'nope.json')),
      ).message,
    ).toMatch(/nope\.json: cannot read file \(ENOENT\)$/);
    expect(errorFor((d) => writeFileSync(path.join(d, 'gt.json'), '{"images": ')).message).toMatch(
      /gt\.json: malformed JSON/,
    );
  });

  it('a missing or wrongly typed field, with its path', () => {
    expect(errorFor((d) => editJson(d, 'gt.json', (j) => delete j.categories)).message).toMatch(
      /gt\.json: field "categories": /,
    );
    expect(
      errorFor((d) => editJson(d, 'pred.json', (j) => (j.annotations[1].segments_info[0].id = '5'))).message,
    ).toMatch(/pred\.json: field "annotations\[1\]\.segments_info\[0\]\.id": /);
    expect(
      errorFor((d) => editJson(d, 'gt.json', (j) => delete j.annotations[0].segments_info[0].iscrowd)).message,
    ).toMatch(/gt\.json: field "annotations\[0\]\.segments_info\[0\]\.iscrowd": /);
  });

  it('a PNG whose size differs from its images entry, a missing PNG, a PNG that is not RGB', () => {
    const e = errorFor((d) => editJson(d, 'gt.json', (j) => (j.images[1].width = 25)));
    expect(e.message).toMatch(/gt\/img2\.png: size 24×16 differs from 25×16 of image_id 2 in .*gt\.json$/);
    expect(errorFor((d) => editJson(d, 'pred.json', (j) => (ann(j, 3).file_name = 'gone.png'))).message).toMatch(
      /pred\/gone\.png: cannot read file \(ENOENT\)$/,
    );
    const grey = (d: string): void => {
      const png = new PNG({ width: 24, height: 16 });
      png.data.fill(0);
      writeFileSync(path.join(d, 'pred', 'p1.png'), PNG.sync.write(png, { colorType: 0 }));
    };
    expect(errorFor(grey).message).toMatch(
      /pred\/p1\.png: expected an 8-bit RGB or RGBA PNG \(bit depth 8, colour type 0\)$/,
    );
    expect(errorFor((d) => writeFileSync(path.join(d, 'gt', 'img1.png'), 'hello')).message).toMatch(
      /gt\/img1\.png: not a PNG image$/,
    );
  });

  it('a prediction for an unknown image, a second prediction, a GT image without prediction', () => {
    expect(
      errorFor((d) =>
        editJson(d, 'pred.json', (j) => j.annotations.push({ image_id: 99, file_name: 'p1.png', segments_info: [] })),
      ).message,
    ).toMatch(/pred\.json: annotations\[8\]: image_id 99 is not an image of the ground truth$/);
    expect(errorFor((d) => editJson(d, 'pred.json', (j) => j.annotations.push({ ...ann(j, 1) }))).message).toMatch(
      /pred\.json: annotations\[8\]: image_id 1 has a second prediction$/,
    );
    expect(
      errorFor((d) =>
        editJson(d, 'pred.json', (j) => (j.annotations = j.annotations.filter((a: any) => a.image_id !== 5))),
      ).message,
    ).toMatch(/pred\.json: no prediction for image_id 5$/);
    expect(
      errorFor((d) => editJson(d, 'gt.json', (j) => (j.images = j.images.filter((a: any) => a.id !== 6)))).message,
    ).toMatch(/gt\.json: annotations\[5\]: image_id 6 has no entry in "images"$/);
  });

  it('segment ids that PNG and segments_info do not share, an unknown category, a wrong GT area', () => {
    // pred p1.png paints segment 1002; drop it from segments_info
    expect(
      errorFor((d) =>
        editJson(
          d,
          'pred.json',
          (j) => (ann(j, 1).segments_info = ann(j, 1).segments_info.filter((s: any) => s.id !== 1002)),
        ),
      ).message,
    ).toMatch(/pred\.json: image_id 1 \(.*pred\/p1\.png\): segment id 1002 is in the PNG but not in segments_info$/);
    expect(
      errorFor((d) =>
        editJson(d, 'gt.json', (j) => ann(j, 3).segments_info.push({ id: 77, category_id: 1, iscrowd: 0 })),
      ).message,
    ).toMatch(/gt\.json: image_id 3 \(.*gt\/img3\.png\): segment id 77 is in segments_info but not in the PNG$/);
    expect(
      errorFor((d) => editJson(d, 'pred.json', (j) => (ann(j, 2).segments_info[0].category_id = 42))).message,
    ).toMatch(/pred\.json: image_id 2 \(.*pred\/p2\.png\): segment id 2000 has unknown category_id 42$/);
    // image 1's sky (id 0x030201) covers 4 rows × 24 = 96 pixels
    expect(errorFor((d) => editJson(d, 'gt.json', (j) => (ann(j, 1).segments_info[0].area = 95))).message).toMatch(
      /gt\.json: annotations\[0\]: image_id 1: segment id 197121 has area 95 but 96 pixels in .*gt\/img1\.png$/,
    );
  });
});
