/**
 * `rewards-metrics cider --refs refs.json --cands cands.json [--json]`: coco-caption's CIDEr-D (per image and corpus)
 * and BLEU-1..4 for one candidate per image. refs.json = {image id: [reference captions]}, cands.json = {image id:
 * [one candidate]}. Captions are normalised with `normalizeCaption` (PTB-style) first. As in COCOEvalCap, the scored
 * images are those with a candidate: reference-only images are ignored (they do not enter the document frequencies).
 */
import * as E from 'fp-ts/Either';
import { pipe } from 'fp-ts/function';
import { ciderDAndBleu } from '../bleu';
import { normalizeCaption } from '../caption-normalize';
import { orThrow, parseFlags, readJson, required } from './io';

type CaptionTable = Record<string, string[]>;

/**
 * Checks `{image id: [captions]}` by hand rather than with a zod schema: loading zod costs ~60 ms, a noticeable part
 * of this command's whole run on a COCO-sized corpus, and the shape is this simple. Messages follow `validate`'s
 * form (file, field, problem).
 */
function captionTable(
  value: unknown,
  file: string,
  count: 'at least one' | 'exactly one',
): E.Either<string, CaptionTable> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return E.left(`${file}: expected an object {image id: [captions]}`);
  for (const [id, caps] of Object.entries(value)) {
    if (!Array.isArray(caps)) return E.left(`${file}: field "${id}": expected an array of captions`);
    const k = caps.findIndex((c) => typeof c !== 'string');
    if (k >= 0) return E.left(`${file}: field "${id}[${k}]": expected a string`);
    if (count === 'at least one' ? caps.length === 0 : caps.length !== 1) {
      return E.left(
        `${file}: field "${id}": needs ${count} ${count === 'exactly one' ? 'candidate' : 'reference'} caption`,
      );
    }
  }
  return E.right(value as CaptionTable);
}

const readCaptions = (file: string, count: 'at least one' | 'exactly one'): E.Either<string, CaptionTable> =>
  E.chain((v: unknown) => captionTable(v, file, count))(readJson(file));

export interface CiderCliResult {
  readonly 'CIDEr-D': number;
  readonly 'CIDEr-D_per_image': Record<string, number>;
  readonly BLEU: [number, number, number, number];
}

/** Scores the files; every input problem is a Left naming the file and the field (or image id). */
export function scoreFiles(refsFile: string, candsFile: string): E.Either<string, CiderCliResult> {
  return pipe(
    E.Do,
    E.bind('refs', () => readCaptions(refsFile, 'at least one')),
    E.bind('cands', () => readCaptions(candsFile, 'exactly one')),
    E.chain(({ refs, cands }) => {
      const ids = Object.keys(cands);
      if (ids.length === 0) return E.left(`${candsFile}: no candidates`);
      const missing = ids.find((id) => !Object.prototype.hasOwnProperty.call(refs, id));
      if (missing !== undefined)
        return E.left(`${candsFile}: field "${missing}": image has no references in ${refsFile}`);
      const r = ids.map((id) => refs[id].map(normalizeCaption));
      const c = ids.map((id) => normalizeCaption(cands[id][0]));
      const scores = ciderDAndBleu(c, r);
      return E.right({
        'CIDEr-D': scores.ciderD.score,
        'CIDEr-D_per_image': Object.fromEntries(ids.map((id, i) => [id, scores.ciderD.perImage[i]])),
        BLEU: scores.bleu.corpus,
      });
    }),
  );
}

export function run(args: readonly string[]): number {
  const { values } = parseFlags(args, {
    refs: { type: 'string' },
    cands: { type: 'string' },
    json: { type: 'boolean' },
  });
  const refsFile = required(values, 'refs');
  const candsFile = required(values, 'cands');
  const result = orThrow(scoreFiles(refsFile, candsFile));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  }
  const n = Object.keys(result['CIDEr-D_per_image']).length;
  const rows: [string, number][] = [
    ['CIDEr-D', result['CIDEr-D']],
    ...result.BLEU.map((b, k): [string, number] => [`BLEU-${k + 1}`, b]),
  ];
  process.stdout.write(`${n} images\n${rows.map(([k, v]) => `  ${k.padEnd(8)} ${v.toFixed(4)}`).join('\n')}\n`);
  return 0;
}
