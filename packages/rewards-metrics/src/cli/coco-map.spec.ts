// `rewards-metrics coco-map` through its run(args): output formats against pycocotools' golden numbers and
// printed lines, and one-line input errors naming the file and the field.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InputError } from './io';
import { run } from './coco-map';

const CASES = path.join(__dirname, '..', '__fixtures__', 'coco', 'cases');
const golden = JSON.parse(readFileSync(path.join(__dirname, '..', '__fixtures__', 'coco', 'golden.json'), 'utf8')) as {
  cases: Record<string, { stats: number[]; per_category: Record<string, number>; summarize_lines?: string[] }>;
};
const files = (name: string): string[] => [
  '--gt',
  path.join(CASES, name, 'gt.json'),
  '--dt',
  path.join(CASES, name, 'dt.json'),
];

function capture(args: readonly string[]): { code: number; out: string } {
  let out = '';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    return { code: run(args), out };
  } finally {
    spy.mockRestore();
  }
}

describe('rewards-metrics coco-map', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rm-coco-'));
  const write = (name: string, content: unknown): string => {
    const f = path.join(dir, name);
    writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
    return f;
  };
  const gtOk = path.join(CASES, 'crowd', 'gt.json');
  const dtOk = path.join(CASES, 'crowd', 'dt.json');

  it('--json prints exactly one JSON object with the 12 stats and per-category AP', () => {
    const { code, out } = capture([...files('categories'), '--json']);
    expect(code).toBe(0);
    expect(out.endsWith('\n') && out.trim().split('\n')).toHaveLength(1);
    const r = JSON.parse(out) as { stats: number[]; per_category: Record<string, number> };
    expect(Object.keys(r).sort()).toEqual(['per_category', 'stats']);
    const g = golden.cases.categories;
    expect(r.stats.map((s, j) => Math.abs(s - g.stats[j]) <= 1e-9)).toEqual(Array(12).fill(true));
    expect(Object.keys(r.per_category)).toEqual(['1', '2', '3', '7']);
    for (const [id, ap] of Object.entries(g.per_category))
      expect(Math.abs(r.per_category[id] - ap)).toBeLessThanOrEqual(1e-9);
  });

  it("prints pycocotools' summarize() lines verbatim, then AP per category", () => {
    const { code, out } = capture(files('crowd'));
    expect(code).toBe(0);
    const lines = out.split('\n');
    expect(lines.slice(0, 12)).toEqual(golden.cases.crowd.summarize_lines);
    expect(out).toContain(' category    1 c1               AP = 0.901');
    expect(out).toContain(' category    2 c2               AP = 0.950');
  });

  it('reports a missing option and a missing file', () => {
    expect(() => run(['--gt', gtOk])).toThrow(new InputError('missing required option --dt'));
    const nope = path.join(dir, 'nope.json');
    expect(() => run(['--gt', nope, '--dt', dtOk])).toThrow(new InputError(`${nope}: cannot read file (ENOENT)`));
  });

  it('reports malformed JSON with the file name', () => {
    const bad = write('bad.json', '[{"image_id": 1,');
    expect(() => run(['--gt', gtOk, '--dt', bad])).toThrow(
      new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: malformed JSON`),
    );
  });

  /** The one-line message of the InputError that `args` raises. */
  function inputError(args: readonly string[]): string {
    try {
      run(args);
    } catch (err) {
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).not.toContain('\n');
      return (err as Error).message;
    }
    throw new Error(`no error for ${args.join(' ')}`);
  }

  it('names the file and the field for a missing field or a wrong type', () => {
    const gt = JSON.parse(readFileSync(gtOk, 'utf8')) as { annotations: Record<string, unknown>[] };
    delete gt.annotations[2].area;
    const gtBad = write('gt-no-area.json', gt);
    expect(inputError(['--gt', gtBad, '--dt', dtOk]).startsWith(`${gtBad}: field "annotations[2].area": `)).toBe(true);
    const dtBad = write('dt-bbox.json', [{ image_id: 1, category_id: 1, bbox: '0 0 1 1', score: 0.5 }]);
    expect(inputError(['--gt', gtOk, '--dt', dtBad]).startsWith(`${dtBad}: field "[0].bbox": `)).toBe(true);
    const dtNoScore = write('dt-score.json', [{ image_id: 1, category_id: 1, bbox: [0, 0, 1, 1] }]);
    expect(inputError(['--gt', gtOk, '--dt', dtNoScore]).startsWith(`${dtNoScore}: field "[0].score": `)).toBe(true);
  });

  it('rejects a detection for an image that is not in the GT, naming the detections file', () => {
    const dt = path.join(CASES, 'unknown-image', 'dt.json');
    expect(() => run(['--gt', path.join(CASES, 'unknown-image', 'gt.json'), '--dt', dt])).toThrow(
      new InputError(`${dt}: field "[1].image_id": image 42 is not in the ground truth`),
    );
  });

  it('reports duplicate GT annotation ids against the GT file', () => {
    const gt = JSON.parse(readFileSync(gtOk, 'utf8')) as { annotations: { id: number }[] };
    gt.annotations[1].id = gt.annotations[0].id;
    const f = write('gt-dup.json', gt);
    expect(() => run(['--gt', f, '--dt', dtOk])).toThrow(
      new InputError(`${f}: field "annotations[1].id": duplicate annotation id 1`),
    );
  });
});
