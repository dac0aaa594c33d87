/**
 * Caption benchmark: a deterministic COCO-like caption corpus (5 references + 1 candidate per image, from a small
 * grammar with many shared n-grams), the `rewards-metrics cider` CLI timed on it (wall seconds, peak RSS), the
 * CIDEr-D scorer alone in-process, and — where `python3 -c 'import pycocoevalcap'` works — pycocoevalcap's Cider on
 * the same pre-normalised input. Run by `rewards-metrics bench` (src/cli/bench.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ciderD } from '../cider';
import { normalizeCaption } from '../caption-normalize';
import { timeCli } from './harness';

/** mulberry32: a tiny seeded PRNG, enough for reproducible synthetic data. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SUBJECTS = [
  'a man',
  'a woman',
  'a dog',
  'two cats',
  'a group of people',
  'a young boy',
  'an old man',
  'a large elephant',
  'a little girl',
  'a brown horse',
  'three zebras',
  'a person',
];
const VERBS = [
  'riding',
  'sitting on',
  'standing next to',
  'holding',
  'looking at',
  'playing with',
  'walking along',
  'eating',
  'lying on',
  'carrying',
];
const OBJECTS = [
  'a horse',
  'a bench',
  'a red bus',
  'the beach',
  'a frisbee',
  'a skateboard',
  'a table with food',
  'a pizza',
  'a surfboard',
  'the grass',
  'a kite',
  'an umbrella',
];
const PLACES = [
  'in a park',
  'on a street',
  'near the water',
  'in the kitchen',
  'at night',
  'in the snow',
  'on a sunny day',
  '',
];
const ADJS = ['', '', 'small', 'white', 'happy', 'busy'];

export interface CaptionCorpus {
  readonly ids: string[];
  /** [I][K]: raw reference captions (capitalised, with punctuation: the CLI normalises them). */
  readonly refs: string[][];
  /** [I]: one raw candidate per image. */
  readonly cands: string[];
}

/**
 * A reproducible corpus: each image has a "true" scene (subject, verb, object, place); references vary it slightly
 * and the candidate sometimes gets a part wrong, so n-grams repeat within and across images as in COCO.
 */
export function generateCaptionCorpus(images: number, seed = 1, refsPerImage = 5): CaptionCorpus {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const ids: string[] = [];
  const refs: string[][] = [];
  const cands: string[] = [];
  const sentence = (s: string, v: string, o: string, p: string): string => {
    const adj = pick(ADJS);
    const subj = adj && s.startsWith('a ') && !s.startsWith('a group') ? `a ${adj} ${s.slice(2)}` : s;
    const text = [subj, rnd() < 0.5 ? 'is' : '', v, o, p].filter((x) => x !== '').join(' ');
    const punct = rnd() < 0.7 ? '.' : '';
    return `${text[0].toUpperCase()}${text.slice(1)}${punct}`;
  };
  for (let i = 0; i < images; i++) {
    const [s, v, o, p] = [pick(SUBJECTS), pick(VERBS), pick(OBJECTS), pick(PLACES)];
    ids.push(String(100000 + i * 7));
    const r: string[] = [];
    for (let k = 0; k < refsPerImage; k++) {
      r.push(
        sentence(
          rnd() < 0.8 ? s : pick(SUBJECTS),
          rnd() < 0.8 ? v : pick(VERBS),
          rnd() < 0.85 ? o : pick(OBJECTS),
          rnd() < 0.6 ? p : pick(PLACES),
        ),
      );
    }
    refs.push(r);
    cands.push(
      sentence(
        rnd() < 0.7 ? s : pick(SUBJECTS),
        rnd() < 0.6 ? v : pick(VERBS),
        rnd() < 0.7 ? o : pick(OBJECTS),
        rnd() < 0.5 ? p : '',
      ),
    );
  }
  return { ids, refs, cands };
}

const PY_CIDER = [
  'import json, sys, time',
  'from pycocoevalcap.cider.cider import Cider',
  'refs = json.load(open(sys.argv[1])); cands = json.load(open(sys.argv[2]))',
  't0 = time.time(); score, _ = Cider().compute_score(refs, cands); dt = time.time() - t0',
  'print(json.dumps({"CIDEr-D": score, "seconds": dt}))',
].join('\n');

export interface BenchCaptionResult {
  readonly images: number;
  /** The whole `rewards-metrics cider` run: start-up, JSON, normalisation, CIDEr-D and BLEU. */
  readonly cli: { readonly seconds: number; readonly peakRssMiB: number; readonly 'CIDEr-D': number };
  /** The CIDEr-D scorer alone on normalised captions (what pycocoevalcap's `compute_score` does). */
  readonly inProcess: { readonly ciderDScorerSeconds: number };
  readonly pycocoevalcap?:
    | {
        /** The whole python3 run: start-up, import, JSON, Cider().compute_score. */
        readonly seconds: number;
        readonly scorerSeconds: number;
        readonly 'CIDEr-D': number;
        /** Whole python3 run over whole CLI run. */
        readonly speedup: number;
        /** compute_score over our in-process scorer. */
        readonly scorerSpeedup: number;
        readonly absDiff: number;
      }
    | { readonly error: string };
}

/** Generates the caption corpus into `outDir`, times our CLI and (if available) pycocoevalcap on it. */
export async function benchCaption(opts: {
  images?: number;
  seed?: number;
  outDir: string;
  reference?: boolean;
}): Promise<BenchCaptionResult> {
  const images = opts.images ?? 5000;
  const corpus = generateCaptionCorpus(images, opts.seed ?? 1);
  mkdirSync(opts.outDir, { recursive: true });
  const refsFile = path.join(opts.outDir, 'refs.json');
  const candsFile = path.join(opts.outDir, 'cands.json');
  writeFileSync(refsFile, JSON.stringify(Object.fromEntries(corpus.ids.map((id, i) => [id, corpus.refs[i]]))));
  writeFileSync(candsFile, JSON.stringify(Object.fromEntries(corpus.ids.map((id, i) => [id, [corpus.cands[i]]]))));
  const cli = timeCli(['cider', '--refs', refsFile, '--cands', candsFile, '--json']);
  const ours = JSON.parse(cli.stdout) as { 'CIDEr-D': number };
  const cliResult = { seconds: cli.seconds, peakRssMiB: cli.peakRssMiB, 'CIDEr-D': ours['CIDEr-D'] };

  // The scorer alone, in-process, on normalised captions: what pycocoevalcap's Cider().compute_score does.
  const normRefs = corpus.refs.map((r) => r.map(normalizeCaption));
  const normCands = corpus.cands.map(normalizeCaption);
  const t0 = process.hrtime.bigint();
  ciderD(normCands, normRefs);
  const scorerSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const result: BenchCaptionResult = { images, cli: cliResult, inProcess: { ciderDScorerSeconds: scorerSeconds } };
  if (opts.reference === false || spawnSync('python3', ['-c', 'import pycocoevalcap']).status !== 0) return result;

  // pycocoevalcap wants PTB-tokenised text; give it our normalisation so both score the same strings.
  const nRefs = path.join(opts.outDir, 'refs.norm.json');
  const nCands = path.join(opts.outDir, 'cands.norm.json');
  writeFileSync(nRefs, JSON.stringify(Object.fromEntries(corpus.ids.map((id, i) => [id, normRefs[i]]))));
  writeFileSync(nCands, JSON.stringify(Object.fromEntries(corpus.ids.map((id, i) => [id, [normCands[i]]]))));
  const t1 = process.hrtime.bigint();
  const py = spawnSync('python3', ['-c', PY_CIDER, nRefs, nCands], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - t1) / 1e9;
  if (py.status !== 0)
    return { ...result, pycocoevalcap: { error: py.stderr.trim().split('\n').pop() ?? `python3 exited ${py.status}` } };
  const ref = JSON.parse(py.stdout) as { 'CIDEr-D': number; seconds: number };
  return {
    ...result,
    pycocoevalcap: {
      seconds,
      scorerSeconds: ref.seconds,
      'CIDEr-D': ref['CIDEr-D'],
      speedup: seconds / cli.seconds,
      scorerSpeedup: ref.seconds / scorerSeconds,
      absDiff: Math.abs(ref['CIDEr-D'] - ours['CIDEr-D']),
    },
  };
}
