import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { z } from 'zod';
import { InputError, orThrow, parseFlags, readJsonAs } from './io';

describe('CLI input boundary', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rm-io-'));
  const schema = z.object({ annotations: z.array(z.object({ bbox: z.array(z.number()).length(4) })) });

  it('names the file for a missing file and for malformed JSON', () => {
    expect(readJsonAs(schema, path.join(dir, 'nope.json'))).toEqual(
      E.left(`${path.join(dir, 'nope.json')}: cannot read file (ENOENT)`),
    );
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{"annotations": [');
    const r = readJsonAs(schema, bad);
    expect(E.isLeft(r) && r.left.startsWith(`${bad}: malformed JSON`)).toBe(true);
  });

  it('names the file and the field path of the first problem', () => {
    const f = path.join(dir, 'gt.json');
    writeFileSync(f, JSON.stringify({ annotations: [{ bbox: [1, 2, 3, 4] }, { bbox: [1, 2, 3] }] }));
    const r = readJsonAs(schema, f);
    expect(E.isLeft(r) && r.left.startsWith(`${f}: field "annotations[1].bbox": `)).toBe(true);
  });

  it('turns a Left and a bad flag into InputError', () => {
    expect(() => orThrow(E.left('x.json: broken'))).toThrow(new InputError('x.json: broken'));
    expect(() => parseFlags(['--nope'], { json: { type: 'boolean' } })).toThrow(InputError);
    expect(parseFlags(['--json', 'a.png'], { json: { type: 'boolean' } }, true)).toEqual({
      values: { json: true },
      positionals: ['a.png'],
    });
  });
});
