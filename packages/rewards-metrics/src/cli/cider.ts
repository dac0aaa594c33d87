/**
 * `rewards-metrics cider --refs refs.json --cands cands.json [--json]`: coco-caption's CIDEr-D (per image and corpus)
 * and BLEU-1..4 for one candidate per image. refs.json = {image id: [reference captions]}, cands.json = {image id:
 * [one candidate]}. Captions are normalised with `normalizeCaption` (PTB-style) first. As in COCOEvalCap, the scored
 * images are those with a candidate: reference-only images are ignored (they do not enter the document frequencies).
 */
import type * as E from 'fp-ts/Either';
import { corpusCiderDAndBleu } from '../caption-corpus';
import { orThrow, parseFlags, readJson, required } from './io';

type CaptionTable = Record<string, string[]>;

// This command builds its Eithers (plain `{ _tag, left | right }` objects) itself, as io.ts does: loading fp-ts
// would cost ~6 ms of a ~0.3 s whole run.
const left = <A>(e: string): E.Either<string, A> => ({ _tag: 'Left', left: e });
const right = <A>(a: A): E.Either<string, A> => ({ _tag: 'Right', right: a });

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
    return left(`${file}: expected an object {image id: [captions]}`);
  // Plain loops over the keys: `Object.entries` and a `findIndex` callback per image cost ~5 ms on 5,000 images.
  const table = value as Record<string, unknown>;
  const ids = Object.keys(table);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    const caps = table[id];
    if (!Array.isArray(caps)) return left(`${file}: field "${id}": expected an array of captions`);
    for (let k = 0; k < caps.length; k++) {
      if (typeof caps[k] !== 'string') return left(`${file}: field "${id}[${k}]": expected a string`);
    }
    if (count === 'at least one' ? caps.length === 0 : caps.length !== 1) {
      return left(
        `${file}: field "${id}": needs ${count} ${count === 'exactly one' ? 'candidate' : 'reference'} caption`,
      );
    }
  }
  return right(value as CaptionTable);
}

function readCaptions(file: string, count: 'at least one' | 'exactly one'): E.Either<string, CaptionTable> {
  const json = readJson(file);
  return json._tag === 'Left' ? json : captionTable(json.right, file, count);
}

export interface CiderCliResult {
  readonly 'CIDEr-D': number;
  readonly 'CIDEr-D_per_image': Record<string, number>;
  readonly BLEU: [number, number, number, number];
}

/** Scores the files; every input problem is a Left naming the file and the field (or image id). */
export function scoreFiles(refsFile: string, candsFile: string): E.Either<string, CiderCliResult> {
  const refsRead = readCaptions(refsFile, 'at least one');
  if (refsRead._tag === 'Left') return refsRead;
  const candsRead = readCaptions(candsFile, 'exactly one');
  if (candsRead._tag === 'Left') return candsRead;
  const refs = refsRead.right;
  const cands = candsRead.right;
  const ids = Object.keys(cands);
  if (ids.length === 0) return left(`${candsFile}: no candidates`);
  const missing = ids.find((id) => !Object.prototype.hasOwnProperty.call(refs, id));
  if (missing !== undefined) return left(`${candsFile}: field "${missing}": image has no references in ${refsFile}`);
  // Raw captions: the scorer normalises each as `normalizeCaption` does while it splits it into words.
  const r = ids.map((id) => refs[id]);
  const c = ids.map((id) => cands[id][0]);
  const scores = corpusCiderDAndBleu(c, r, 6, true);
  return right({
    'CIDEr-D': scores.ciderD.score,
    'CIDEr-D_per_image': Object.fromEntries(ids.map((id, i) => [id, scores.ciderD.perImage[i]])),
    BLEU: scores.bleu.corpus,
  });
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
