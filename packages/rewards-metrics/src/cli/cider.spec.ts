import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import input from '../__fixtures__/caption/input.json';
import expected from '../__fixtures__/caption/expected.json';
import { run } from './cider';
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

// Raw captions as a user has them: capitalised, with a full stop and a comma; normalisation must undo that.
const raw = (s: string): string => {
  const w = s.split(' ');
  if (w.length > 2) w[1] += ',';
  const t = w.join(' ');
  return `${t.charAt(0).toUpperCase()}${t.slice(1)}.`;
};

describe('rewards-metrics cider', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rm-cider-'));
  const refsFile = path.join(dir, 'refs.json');
  const candsFile = path.join(dir, 'cands.json');
  writeFileSync(refsFile, JSON.stringify(Object.fromEntries(input.ids.map((id, i) => [id, input.refs[i].map(raw)]))));
  writeFileSync(candsFile, JSON.stringify(Object.fromEntries(input.ids.map((id, i) => [id, [raw(input.cands[i])]]))));
  const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

  it('--json prints CIDEr-D (corpus, per image) and BLEU-1..4 equal to pycocoevalcap on the normalised captions', () => {
    const { code, out } = capture(() => run(['--refs', refsFile, '--cands', candsFile, '--json']));
    expect(code).toBe(0);
    const r = JSON.parse(out) as { 'CIDEr-D': number; 'CIDEr-D_per_image': Record<string, number>; BLEU: number[] };
    expect(close(r['CIDEr-D'], expected['CIDEr-D'])).toBe(true);
    expect(input.ids.filter((id, i) => !close(r['CIDEr-D_per_image'][id], expected['CIDEr-D_per_image'][i]))).toEqual(
      [],
    );
    expect(r.BLEU.map((b, k) => close(b, expected.BLEU[k]))).toEqual([true, true, true, true]);
  });

  it('prints a readable table without --json', () => {
    const { out } = capture(() => run(['--refs', refsFile, '--cands', candsFile]));
    expect(out).toContain('50 images');
    expect(out).toContain(`CIDEr-D  ${expected['CIDEr-D'].toFixed(4)}`);
    expect(out).toContain(`BLEU-4   ${expected.BLEU[3].toFixed(4)}`);
  });

  it('reports bad input as one line naming the file and the field or image id', () => {
    const bad = (name: string, content: string): string => {
      const f = path.join(dir, name);
      writeFileSync(f, content);
      return f;
    };
    const err = (args: string[]): string => {
      try {
        run(args);
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    const missing = path.join(dir, 'missing.json');
    expect(err(['--refs', missing, '--cands', candsFile])).toBe(`${missing}: cannot read file (ENOENT)`);
    const malformed = bad('malformed.json', '{"1": [');
    expect(err(['--refs', refsFile, '--cands', malformed])).toMatch(new RegExp(`^${malformed}: malformed JSON`));
    const wrongType = bad('wrong-type.json', '{"1": "a dog"}');
    expect(err(['--refs', wrongType, '--cands', candsFile])).toMatch(new RegExp(`^${wrongType}: field "1": `));
    const notObject = bad('list.json', '[["a dog"]]');
    expect(err(['--refs', notObject, '--cands', candsFile])).toBe(
      `${notObject}: expected an object {image id: [captions]}`,
    );
    const nonString = bad('nonstring.json', '{"100000": ["a dog", 3]}');
    expect(err(['--refs', nonString, '--cands', candsFile])).toBe(`${nonString}: field "100000[1]": expected a string`);
    const noRefs = bad('norefs.json', '{"100000": []}');
    expect(err(['--refs', noRefs, '--cands', candsFile])).toBe(
      `${noRefs}: field "100000": needs at least one reference caption`,
    );
    const two = bad('two.json', '{"100000": ["a dog", "a cat"]}');
    expect(err(['--refs', refsFile, '--cands', two])).toBe(
      `${two}: field "100000": needs exactly one candidate caption`,
    );
    const unknown = bad('unknown.json', '{"100000": ["a dog"], "42": ["a cat"]}');
    expect(err(['--refs', refsFile, '--cands', unknown])).toBe(
      `${unknown}: field "42": image has no references in ${refsFile}`,
    );
    expect(err(['--refs', refsFile])).toBe('missing required option --cands');
    expect(() => run([])).toThrow(InputError);
    expect(err(['--refs', refsFile, '--cands', candsFile, '--bogus'])).toMatch(/bogus/);
  });
});
