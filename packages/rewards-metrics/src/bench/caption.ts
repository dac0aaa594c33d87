/**
 * Caption benchmark: a deterministic COCO-like caption corpus (5 references + 1 candidate per image, from a small
 * grammar with many shared n-grams), the `rewards-metrics cider` CLI timed on it (wall seconds, peak RSS), optionally
 * pycocoevalcap's Cider on the same pre-normalised input, and the per-sample rewards timed in-process (µs).
 *
 * Not wired to `rewards-metrics bench` here. By hand, from this package (the bundle must sit next to dist/cli.cjs,
 * which `timeCli` runs; pycocoevalcap is timed only where `python3 -c 'import pycocoevalcap'` works):
 *   node ../../tools/build.mjs --no-types
 *   echo "require('./src/bench/caption').benchCaption({outDir:'/tmp/capbench'}).then((r) => console.log(JSON.stringify(r, null, 1)))" \
 *     | npx esbuild --bundle --platform=node --outfile=dist/bench-caption.cjs && node dist/bench-caption.cjs
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CiderD, ciderD } from '../cider';
import { normalizeCaption } from '../caption-normalize';
import { classWeights, detectionReward, COCO_TRAIN_CLASS_COUNTS, type Boxes } from '../detection-reward';
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

const SUBJECTS = ['a man', 'a woman', 'a dog', 'two cats', 'a group of people', 'a young boy', 'an old man', 'a large elephant', 'a little girl', 'a brown horse', 'three zebras', 'a person'];
const VERBS = ['riding', 'sitting on', 'standing next to', 'holding', 'looking at', 'playing with', 'walking along', 'eating', 'lying on', 'carrying'];
const OBJECTS = ['a horse', 'a bench', 'a red bus', 'the beach', 'a frisbee', 'a skateboard', 'a table with food', 'a pizza', 'a surfboard', 'the grass', 'a kite', 'an umbrella'];
const PLACES = ['in a park', 'on a street', 'near the water', 'in the kitchen', 'at night', 'in the snow', 'on a sunny day', ''];
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
      r.push(sentence(rnd() < 0.8 ? s : pick(SUBJECTS), rnd() < 0.8 ? v : pick(VERBS), rnd() < 0.85 ? o : pick(OBJECTS), rnd() < 0.6 ? p : pick(PLACES)));
    }
    refs.push(r);
    cands.push(sentence(rnd() < 0.7 ? s : pick(SUBJECTS), rnd() < 0.6 ? v : pick(VERBS), rnd() < 0.7 ? o : pick(OBJECTS), rnd() < 0.5 ? p : ''));
  }
  return { ids, refs, cands };
}

/** Median microseconds per call of `fn` over `reps` calls (after a warm-up). */
function microseconds(fn: (i: number) => unknown, reps: number): number {
  for (let i = 0; i < Math.min(reps, 200); i++) fn(i);
  const times: number[] = [];
  const batch = 50;
  for (let r = 0; r < reps; r += batch) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn(r + i);
    times.push(Number(process.hrtime.bigint() - t0) / 1e3 / batch);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const PY_CIDER = [
  'import json, sys, time',
  'from pycocoevalcap.cider.cider import Cider',
  'refs = json.load(open(sys.argv[1])); cands = json.load(open(sys.argv[2]))',
  't0 = time.time(); score, _ = Cider().compute_score(refs, cands); dt = time.time() - t0',
  'print(json.dumps({"CIDEr-D": score, "seconds": dt}))',
].join('\n');

export async function benchCaption(opts: { images?: number; seed?: number; outDir: string; reference?: boolean }): Promise<object> {
  const images = opts.images ?? 5000;
  const corpus = generateCaptionCorpus(images, opts.seed ?? 1);
  mkdirSync(opts.outDir, { recursive: true });
  const refsFile = path.join(opts.outDir, 'refs.json');
  const candsFile = path.join(opts.outDir, 'cands.json');
  writeFileSync(refsFile, JSON.stringify(Object.fromEntries(corpus.ids.map((id, i) => [id, corpus.refs[i]]))));
  writeFileSync(candsFile, JSON.stringify(Object.fromEntries(corpus.ids.map((id, i) => [id, [corpus.cands[i]]]))));
  const cli = timeCli(['cider', '--refs', refsFile, '--cands', candsFile, '--json']);
  const ours = JSON.parse(cli.stdout) as { 'CIDEr-D': number };
  const result: Record<string, unknown> = {
    images,
    cli: { seconds: cli.seconds, peakRssMiB: cli.peakRssMiB, 'CIDEr-D': ours['CIDEr-D'] },
  };

  // The scorer alone, in-process, on normalised captions: what pycocoevalcap's Cider().compute_score does.
  const normRefs = corpus.refs.map((r) => r.map(normalizeCaption));
  const normCands = corpus.cands.map(normalizeCaption);
  const t0 = process.hrtime.bigint();
  ciderD(normCands, normRefs);
  const scorerSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  result.inProcess = { ciderDScorerSeconds: scorerSeconds };

  if (opts.reference !== false && spawnSync('python3', ['-c', 'import pycocoevalcap']).status === 0) {
    // pycocoevalcap wants PTB-tokenised text; give it our normalisation so both score the same strings.
    const nRefs = path.join(opts.outDir, 'refs.norm.json');
    const nCands = path.join(opts.outDir, 'cands.norm.json');
    writeFileSync(nRefs, JSON.stringify(Object.fromEntries(corpus.ids.map((id, i) => [id, corpus.refs[i].map(normalizeCaption)]))));
    writeFileSync(nCands, JSON.stringify(Object.fromEntries(corpus.ids.map((id, i) => [id, [normalizeCaption(corpus.cands[i])]]))));
    const t0 = process.hrtime.bigint();
    const py = spawnSync('python3', ['-c', PY_CIDER, nRefs, nCands], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (py.status === 0) {
      const ref = JSON.parse(py.stdout) as { 'CIDEr-D': number; seconds: number };
      result.pycocoevalcap = {
        seconds,
        scorerSeconds: ref.seconds,
        'CIDEr-D': ref['CIDEr-D'],
        // whole python3 run vs whole CLI run (which also normalises the captions and computes BLEU)
        speedup: seconds / cli.seconds,
        scorerSpeedup: ref.seconds / scorerSeconds,
      };
    } else result.pycocoevalcap = { error: py.stderr.trim().split('\n').pop() };
  }

  // Per-sample rewards in-process: one caption against its image's references with training-corpus df.
  const scorer = CiderD.fromReferences(normRefs);
  const ciderUs = microseconds((i) => scorer.score(normCands[i % images], normRefs[i % images]), 20000);

  // Detection reward: 100 predicted slots against 20 GT boxes, COCO class weights.
  const rnd = mulberry32(7);
  const randomBoxes = (k: number, withConf: boolean): Boxes => {
    const boxes = new Float64Array(k * 4);
    const classes = new Int32Array(k);
    const confs = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      const y = rnd() * 0.8;
      const x = rnd() * 0.8;
      boxes.set([y, x, y + 0.05 + rnd() * 0.15, x + 0.05 + rnd() * 0.15], j * 4);
      classes[j] = Math.floor(rnd() * 5);
      confs[j] = withConf ? Math.floor(rnd() * 3) : 2;
    }
    return { boxes, classes, confs };
  };
  const gt = randomBoxes(20, false);
  // Predictions jitter the GT boxes so that many match, with duplicates.
  const preds = Array.from({ length: 16 }, () => {
    const p = randomBoxes(100, true);
    for (let j = 0; j < 100; j++) {
      const g = j % 20;
      if (rnd() < 0.6) {
        for (let c = 0; c < 4; c++) p.boxes[j * 4 + c] = gt.boxes[g * 4 + c] + (rnd() - 0.5) * 0.02;
        p.classes[j] = gt.classes[g];
      }
    }
    return p;
  });
  const weights = classWeights(COCO_TRAIN_CLASS_COUNTS);
  const detUs = microseconds((i) => detectionReward(preds[i % preds.length], gt, { classWeights: weights }), 20000);
  result.perSample = { ciderDMicroseconds: ciderUs, detectionReward100BoxesMicroseconds: detUs };
  return result;
}
