// Statistics of the colour scenes over thousands of them (~12 s of generation and counting on 2 cores, so outside the
// unit suite; `npm run e2e` and CI run them): each region's colour mode and its shares, that the grey image carries no
// hue (a classifier from luma does no better than chance, one from the colour channels is near perfect), and the
// ground truth against the colour metrics.
import { colourFrechetDistance, greyFraction, srgbToLab } from '@reward-tune/rewards-metrics';
import { LUMA } from './grayscale';
import {
  chromaOf,
  chromaOffset,
  colourScenes,
  HUE_ANGLES,
  HUE_NAMES,
  hueLabels,
  PALETTES,
  SHAPE_CLASSES,
  type ColourScene,
  type SceneRegion,
  type ColourSceneOptions,
} from './scenes';

const SMALL: ColourSceneOptions = { size: 24 };
const unit = (v: number): number => (v + 1) / 2;

describe('colour scenes: each region has a luma, and independently grey or a class hue', () => {
  let scenes: ColourScene[] = [];
  let regions: SceneRegion[] = [];
  beforeAll(() => {
    scenes = [...colourScenes(11, 'train', 1500, SMALL)];
    regions = scenes.flatMap((s) => s.regions);
  });

  it('paints every region one fixed, luma-neutral chroma: exactly grey, or its hue direction at radius ≤ 0.22', () => {
    let worstSpread = 0,
      worstChroma = 0,
      greyNotGrey = 0;
    for (const s of scenes.slice(0, 300)) {
      const first = s.regions.map(() => null as number[] | null);
      for (let p = 0; p < s.owner.length; p++) {
        const k = s.owner[p];
        const [R, G, B] = [unit(s.rgb[3 * p]), unit(s.rgb[3 * p + 1]), unit(s.rgb[3 * p + 2])];
        const g = (LUMA[0] * R + LUMA[1] * G + LUMA[2] * B) / (LUMA[0] + LUMA[1] + LUMA[2]);
        const o = [R - g, G - g, B - g];
        if (s.regions[k].hue === 'grey' && !(R === G && G === B)) greyNotGrey++;
        const f = (first[k] ??= o);
        for (let c = 0; c < 3; c++) worstSpread = Math.max(worstSpread, Math.abs(o[c] - f[c]));
      }
      s.regions.forEach((r, k) => {
        const o = first[k];
        if (o === null) return;
        const [cb, cr] = chromaOf(o[0] + 0.5, o[1] + 0.5, o[2] + 0.5);
        const want =
          r.hue === 'grey' ? [0, 0] : [r.chroma * Math.cos(HUE_ANGLES[r.hue]), r.chroma * Math.sin(HUE_ANGLES[r.hue])];
        worstChroma = Math.max(worstChroma, Math.abs(cb - want[0]), Math.abs(cr - want[1]));
        expect(r.chroma).toBeLessThanOrEqual(0.22);
      });
    }
    expect(greyNotGrey).toBe(0);
    expect(worstSpread).toBeLessThan(2e-6);
    expect(worstChroma).toBeLessThan(2e-6);
    const d = chromaOffset(0.1, -0.2);
    expect(LUMA[0] * d[0] + LUMA[1] * d[1] + LUMA[2] * d[2]).toBeCloseTo(0, 15);
  });

  it('makes grey the single most probable mode (≈ 0.5), each vivid hue ≈ 0.25 of its class', () => {
    const greyShare = regions.filter((r) => r.hue === 'grey').length / regions.length;
    expect(greyShare).toBeGreaterThan(0.47);
    expect(greyShare).toBeLessThan(0.53);
    for (const cls of ['background', ...SHAPE_CLASSES] as const) {
      const of = regions.filter((r) => r.cls === cls);
      const share = (h: string): number => of.filter((r) => r.hue === h).length / of.length;
      expect(of.length).toBeGreaterThan(600);
      expect(share('grey')).toBeGreaterThan(0.44);
      for (const h of PALETTES[cls]) {
        expect(share(h)).toBeGreaterThan(0.2);
        expect(share(h)).toBeLessThan(0.3);
        expect(share(h)).toBeLessThan(share('grey'));
      }
      expect(of.every((r) => r.hue === 'grey' || PALETTES[cls].includes(r.hue))).toBe(true);
    }
    // The gamut shrink is the exception, not the rule.
    const vivid = regions.filter((r) => r.hue !== 'grey');
    expect(vivid.filter((r) => r.chroma < 0.22 - 1e-9).length / vivid.length).toBeLessThan(0.5);
  });

  it('agrees with the near-grey metric: vivid pixels have Lab chroma > 10, grey ones 0', () => {
    let greyMax = 0,
      vividMin = Infinity;
    for (const s of scenes.slice(0, 300)) {
      const labels = hueLabels(s);
      for (let p = 0; p < labels.length; p++) {
        const [, a, b] = srgbToLab(unit(s.rgb[3 * p]), unit(s.rgb[3 * p + 1]), unit(s.rgb[3 * p + 2]));
        if (labels[p] < 0) greyMax = Math.max(greyMax, Math.hypot(a, b));
        else vividMin = Math.min(vividMin, Math.hypot(a, b));
      }
    }
    expect(greyMax).toBeLessThan(1e-6);
    expect(vividMin).toBeGreaterThan(10);
    const g = scenes.slice(0, 200).reduce((acc, s) => acc + greyFraction(s.rgb), 0) / 200;
    expect(g).toBeGreaterThan(0.35);
    expect(g).toBeLessThan(0.65);
  });
});

/**
 * The best classifier of a discrete feature (values 0..bins−1): per value, the majority label (0..labels−1) of a
 * fitting sample (the global majority for unseen values), scored on a second sample. Returns its accuracy and the
 * chance level: the accuracy of the best constant guess on the scored sample (its commonest label's share).
 */
function binClassifier(
  fit: { x: ArrayLike<number>; y: ArrayLike<number> },
  test: { x: ArrayLike<number>; y: ArrayLike<number> },
  bins: number,
  labels: number,
): { accuracy: number; chance: number } {
  const counts = new Float64Array(bins * labels);
  const total = new Float64Array(labels);
  for (let i = 0; i < fit.x.length; i++) {
    counts[fit.x[i] * labels + fit.y[i]]++;
    total[fit.y[i]]++;
  }
  const argmax = (a: ArrayLike<number>, from: number): number => {
    let best = 0;
    for (let k = 1; k < labels; k++) if (a[from + k] > a[from + best]) best = k;
    return best;
  };
  const majority = argmax(total, 0);
  const predict = Array.from({ length: bins }, (_, v) =>
    counts.subarray(v * labels, (v + 1) * labels).some((c) => c > 0) ? argmax(counts, v * labels) : majority,
  );
  let hit = 0;
  const testTotal = new Float64Array(labels);
  for (let i = 0; i < test.x.length; i++) {
    if (predict[test.x[i]] === test.y[i]) hit++;
    testTotal[test.y[i]]++;
  }
  return { accuracy: hit / test.x.length, chance: Math.max(...testTotal) / test.x.length };
}

describe('colour scenes: the grey image carries no hue', () => {
  const LUMA_BINS = 40;
  const COLOUR_BINS = 16 * 16;
  const CLASSES = ['background', ...SHAPE_CLASSES] as const;
  /** Per pixel: luma bin (from the grey input), chroma bin (from the colour image), label (−1 grey, else hue). */
  function sample(split: 'train' | 'val', n: number) {
    const scenes = [...colourScenes(21, split, n, SMALL)];
    const total = scenes.reduce((acc, s) => acc + s.owner.length, 0);
    const luma = new Int32Array(total),
      colour = new Int32Array(total),
      label = new Int32Array(total);
    const cls = new Int32Array(total),
      brightRegion = new Int32Array(total);
    let i = 0;
    for (const s of scenes) {
      const labels = hueLabels(s);
      for (let p = 0; p < labels.length; p++, i++) {
        const r = s.regions[s.owner[p]];
        luma[i] = Math.min(LUMA_BINS - 1, Math.floor(unit(s.grey[3 * p]) * LUMA_BINS));
        const [cb, cr] = chromaOf(unit(s.rgb[3 * p]), unit(s.rgb[3 * p + 1]), unit(s.rgb[3 * p + 2]));
        colour[i] = Math.floor((cb + 0.5) * 15.999) * 16 + Math.floor((cr + 0.5) * 15.999);
        label[i] = labels[p];
        cls[i] = CLASSES.indexOf(r.cls);
        brightRegion[i] = r.luma > 0.5 ? 1 : 0;
      }
    }
    return { luma, colour, label, cls, brightRegion };
  }
  const N = 1500;
  type Sample = ReturnType<typeof sample>;
  let A: Sample;
  let B: Sample;
  beforeAll(() => {
    A = sample('train', N);
    B = sample('val', N);
  });
  /** The pixels `keep` selects, with labels `y`, as classifier inputs by luma, by colour and a luma-made label. */
  const select = (s: Sample, keep: (i: number) => boolean, y: (i: number) => number) => {
    const idx = Array.from({ length: s.label.length }, (_, i) => i).filter(keep);
    return {
      luma: { x: idx.map((i) => s.luma[i]), y: idx.map(y) },
      colour: { x: idx.map((i) => s.colour[i]), y: idx.map(y) },
      leak: { x: idx.map((i) => s.luma[i]), y: idx.map((i) => s.brightRegion[i]) },
    };
  };

  it('predicts grey vs vivid from luma no better than chance (per class); the colour channels predict it', () => {
    CLASSES.forEach((_, c) => {
      const pick = (s: Sample) =>
        select(
          s,
          (i) => s.cls[i] === c,
          (i) => (s.label[i] < 0 ? 0 : 1),
        );
      const a = pick(A),
        b = pick(B);
      const fromLuma = binClassifier(a.luma, b.luma, LUMA_BINS, 2);
      expect(fromLuma.accuracy - fromLuma.chance).toBeLessThan(0.03);
      expect(fromLuma.chance).toBeLessThan(0.6);
      expect(binClassifier(a.colour, b.colour, COLOUR_BINS, 2).accuracy).toBeGreaterThan(0.99);
    });
  });

  it('predicts which of the two class hues from luma no better than chance; the colour channels predict it', () => {
    CLASSES.forEach((_, c) => {
      const pick = (s: Sample) =>
        select(
          s,
          (i) => s.cls[i] === c && s.label[i] >= 0,
          (i) => s.label[i],
        );
      const a = pick(A),
        b = pick(B);
      const fromLuma = binClassifier(a.luma, b.luma, LUMA_BINS, HUE_NAMES.length);
      expect(fromLuma.accuracy - fromLuma.chance).toBeLessThan(0.03);
      expect(fromLuma.chance).toBeLessThan(0.6);
      expect(binClassifier(a.colour, b.colour, COLOUR_BINS, HUE_NAMES.length).accuracy).toBeGreaterThan(0.99);
      // The procedure sees a luma dependence where there is one: a label made from the region's luma.
      const leak = binClassifier(a.leak, b.leak, LUMA_BINS, 2);
      expect(leak.accuracy).toBeGreaterThan(leak.chance + 0.3);
    });
  });

  it('predicts the label among all nine (grey + 8 hues) from luma no better than chance over all pixels', () => {
    const pick = (s: Sample) =>
      select(
        s,
        () => true,
        (i) => s.label[i] + 1,
      );
    const a = pick(A),
      b = pick(B);
    const fromLuma = binClassifier(a.luma, b.luma, LUMA_BINS, 1 + HUE_NAMES.length);
    expect(fromLuma.accuracy - fromLuma.chance).toBeLessThan(0.02);
    expect(binClassifier(a.colour, b.colour, COLOUR_BINS, 1 + HUE_NAMES.length).accuracy).toBeGreaterThan(0.99);
  });
});

describe('colour scenes: the ground truth against the metrics', () => {
  it('has a small colour Fréchet distance between two samples of the ground truth, a large one to grey', () => {
    const a = [...colourScenes(5, 'val', 150, SMALL)].map((s) => s.rgb);
    const b = [...colourScenes(5, 'test', 150, SMALL)].map((s) => s.rgb);
    const grey = [...colourScenes(5, 'test', 150, SMALL)].map((s) => s.grey);
    const same = colourFrechetDistance(a, b);
    expect(same).toBeLessThan(0.2 * colourFrechetDistance(grey, a));
  });
});
