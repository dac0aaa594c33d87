import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import weighted from '../__fixtures__/detection-reward/random-weighted.json';
import weightedExpected from '../__fixtures__/detection-reward/random-weighted.expected.json';
import paperExpected from '../__fixtures__/detection-reward/paper.expected.json';
import { run } from './detection-reward';
import { InputError } from './io';

function capture(fn: () => unknown): { code: unknown; out: string } {
  let out = '';
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  try {
    return { code: fn(), out };
  } finally {
    spy.mockRestore();
  }
}

const fixture = (name: string): string => path.join(__dirname, '..', '__fixtures__', 'detection-reward', name);

describe('rewards-metrics detection-reward', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rm-det-'));

  it("--json gives the numpy port's numbers for every sample, slot and threshold", () => {
    const { code, out } = capture(() => run(['--input', fixture('random-weighted.json'), '--json']));
    expect(code).toBe(0);
    const r = JSON.parse(out) as typeof weightedExpected;
    const close = (a: number[], b: number[]): boolean =>
      a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= 1e-9);
    expect(r.reward.length).toBe(weighted.samples.length);
    expect(close(r.reward, weightedExpected.reward)).toBe(true);
    expect(close(r.reward_released, weightedExpected.reward_released)).toBe(true);
    expect(r.correct).toEqual(weightedExpected.correct);
    expect(r.match_iou.every((m, i) => close(m, weightedExpected.match_iou[i]))).toBe(true);
    expect(Object.keys(r.per_threshold)).toEqual(Object.keys(weightedExpected.per_threshold));
    for (const [t, e] of Object.entries(weightedExpected.per_threshold)) {
      const g = r.per_threshold[t as keyof typeof r.per_threshold];
      expect([t, close(g.reward, e.reward), g.num_matches, close(g.nms_penalty, e.nms_penalty)]).toEqual([
        t,
        true,
        e.num_matches,
        true,
      ]);
    }
  });

  it('prints a readable table without --json (paper test vector)', () => {
    const { out } = capture(() => run(['--input', fixture('paper.json')]));
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^sample\s+reward\s+released/);
    expect(lines[1]).toContain(paperExpected.reward[0].toFixed(4)); // 1.1643
    expect(lines[1]).toContain('1.0478');
    expect(lines[1]).toMatch(/22210$/);
  });

  it('reports bad input as one line naming the file and the field', () => {
    const err = (content: string | null): string => {
      const f = path.join(dir, 'sample.json');
      if (content !== null) writeFileSync(f, content);
      try {
        run(['--input', content === null ? path.join(dir, 'nope.json') : f]);
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        return (e as Error).message.replace(`${f}: `, 'FILE: ').replace(`${path.join(dir, 'nope.json')}: `, 'FILE: ');
      }
      throw new Error('no error');
    };
    expect(err(null)).toBe('FILE: cannot read file (ENOENT)');
    expect(err('{"gt": [')).toMatch(/^FILE: malformed JSON/);
    expect(err('{"samples": []}')).toMatch(/^FILE: field "gt": /);
    expect(err('{"gt": [{"box": [0, 0, 1], "class": 0}], "samples": []}')).toBe(
      'FILE: field "gt[0].box": must be [ymin, xmin, ymax, xmax]',
    );
    expect(err('{"gt": [], "samples": [[{"box": [0, 0, 1, 1], "class": 0}]]}')).toMatch(
      /^FILE: field "samples\[0\]\[0\]\.conf": /,
    );
    expect(err('{"gt": [], "samples": [[{"box": [0, 0, 1, 1], "class": "dog", "conf": 1}]]}')).toMatch(
      /^FILE: field "samples\[0\]\[0\]\.class": /,
    );
    expect(err('{"class_counts": [5, 5], "gt": [], "samples": [[{"box": [0, 0, 1, 1], "class": 2, "conf": 1}]]}')).toBe(
      'FILE: field "samples[0][0].class": class 2 is outside class_counts (2 classes)',
    );
    expect(err('{"class_counts": [0, 0], "gt": [], "samples": []}')).toBe(
      'FILE: field "class_counts": needs at least one non-zero count',
    );
    expect(() => run([])).toThrow(new InputError('missing required option --input'));
  });
});
