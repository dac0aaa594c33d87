#!/usr/bin/env node
// Writes the Panoptic Quality golden fixtures in this folder: gt.json + gt/*.png and pred.json + pred/*.png, all
// 24×16 panoptic PNGs (segment id = R + 256·G + 256²·B, 0 = VOID). Deterministic: hand-placed rectangles for the
// edge cases (each commented with the rule it exercises) plus a few scenes from a seeded PRNG. expected.json holds
// the numbers panopticapi's pq_compute printed for these files (see README.md here); rerun this script only
// together with that reference run.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pngjs from 'pngjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const W = 24;
const H = 16;

const categories = [
  { id: 1, name: 'person', supercategory: 'person', isthing: 1 },
  { id: 2, name: 'car', supercategory: 'vehicle', isthing: 1 },
  { id: 3, name: 'dog', supercategory: 'animal', isthing: 1 }, // never in GT: only false positives
  { id: 17, name: 'sky', supercategory: 'sky', isthing: 0 },
  { id: 18, name: 'grass', supercategory: 'plant', isthing: 0 },
  { id: 19, name: 'wall', supercategory: 'wall', isthing: 0 }, // nowhere: skipped by the averages
];

/** A scene: segments painted in order (later rectangles overwrite earlier ones), inclusive pixel ranges. */
function paint(rects) {
  const ids = new Uint32Array(W * H);
  for (const [id, x0, y0, x1, y1] of rects) {
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) ids[y * W + x] = id;
  }
  return ids;
}

function writePng(file, ids, rgba) {
  const png = new pngjs.PNG({ width: W, height: H });
  for (let i = 0; i < W * H; i++) {
    png.data[4 * i] = ids[i] & 255;
    png.data[4 * i + 1] = (ids[i] >> 8) & 255;
    png.data[4 * i + 2] = (ids[i] >> 16) & 255;
    png.data[4 * i + 3] = 255;
  }
  writeFileSync(file, pngjs.PNG.sync.write(png, { colorType: rgba ? 6 : 2 }));
}

const areaOf = (ids, id) => ids.reduce((n, v) => n + (v === id ? 1 : 0), 0);

// Each image: gt/pred segments as [id, category_id, iscrowd?] and their rectangles.
const scenes = [
  {
    // A typical scene.
    id: 1,
    gt: {
      segs: [
        [0x030201, 17],
        [0x000a00, 18],
        [5, 1],
        [6, 2],
        [7, 1, 1],
      ],
      rects: [
        [0x030201, 0, 0, 23, 3], // sky, id in all three channels
        [0x000a00, 0, 12, 23, 15], // grass
        [5, 2, 5, 7, 10], // person
        [6, 10, 5, 15, 9], // car
        [7, 17, 5, 21, 10], // crowd person
      ],
    },
    pred: {
      segs: [
        [1000, 17],
        [1001, 18],
        [1002, 1],
        [1003, 3],
        [1004, 1],
        [1005, 2],
        [1006, 1],
      ],
      rects: [
        [1000, 0, 0, 19, 4], // sky, one row over VOID: IoU 80/96
        [1001, 0, 11, 23, 14], // grass
        [1002, 2, 6, 7, 10], // person, IoU 30/36
        [1003, 10, 5, 15, 9], // the car called a dog: dog FP, car FN
        [1004, 17, 5, 21, 8], // person inside the person crowd: ignored
        [1005, 17, 9, 21, 10], // car inside the person crowd: crowd of another class, so FP
        [1006, 8, 4, 9, 12], // person mostly on VOID (16 of 18): ignored
      ],
    },
  },
  {
    // Thresholds and the crowd bookkeeping.
    id: 2,
    predRgba: true,
    gt: {
      segs: [
        [0x010000, 1],
        [21, 2],
        [22, 1],
        [23, 2, 1],
        [24, 2, 1],
        [25, 18],
      ],
      rects: [
        [0x010000, 0, 0, 3, 3], // person, 16 px
        [21, 6, 0, 9, 3], // car, 16 px
        [22, 14, 0, 18, 3], // person, 20 px
        [23, 0, 6, 4, 9], // car crowd, listed first
        [24, 6, 6, 10, 9], // car crowd, listed last: the one panopticapi remembers for "car"
        [25, 0, 12, 23, 15], // grass
      ],
    },
    pred: {
      segs: [
        [2000, 1],
        [2001, 2],
        [2002, 1],
        [2003, 1],
        [2004, 2],
        [2008, 2],
        [2005, 2],
        [2006, 18],
        [2007, 17],
      ],
      rects: [
        [2000, 0, 0, 3, 1], // IoU exactly 8/16 = 0.5: no match, person FP + FN
        [2001, 6, 0, 9, 2], // 12 on the car ...
        [2001, 10, 0, 11, 3], // ... and 8 on VOID: IoU 12/(20+16-12-8) = 0.75 (0.5 were VOID not removed)
        [2002, 14, 0, 17, 3], // person, IoU 16/20
        [2003, 18, 0, 19, 3], // duplicate: 4 on that person, 4 on VOID; VOID share exactly 0.5, so FP
        [2004, 0, 6, 4, 7], // two cars on the first car crowd: not the remembered crowd, so two FPs
        [2008, 0, 8, 4, 9], // (remembering the first crowd instead would give one FP, for 2005)
        [2005, 6, 6, 10, 8], // car on the remembered car crowd: ignored
        [2006, 0, 13, 23, 15], // grass, IoU 72/96
        [2007, 0, 11, 23, 11], // sky entirely on VOID: ignored
      ],
    },
  },
  {
    // Stuff only, an empty prediction: two FNs, and a crowd that is not one.
    id: 3,
    gt: {
      segs: [
        [0xffffff, 17],
        [40, 18],
        [41, 1, 1],
      ],
      rects: [
        [0xffffff, 0, 0, 23, 7],
        [40, 0, 8, 23, 15],
        [41, 0, 0, 3, 3],
      ],
    },
    pred: { segs: [], rects: [] },
  },
  {
    // Nothing to count: an all-VOID GT and one prediction on it.
    id: 4,
    gt: { segs: [], rects: [] },
    pred: { segs: [[4000, 2]], rects: [[4000, 5, 5, 9, 9]] },
  },
];

// Seeded scenes (mulberry32): random rectangles of random classes, and a prediction that jitters each GT
// rectangle, sometimes relabels it, drops it or adds a spurious one.
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = mulberry32(20230217);
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
const pick = (xs) => xs[int(0, xs.length - 1)];
for (let s = 0; s < 4; s++) {
  const gtSegs = [];
  const gtRects = [];
  const predSegs = [];
  const predRects = [];
  const n = int(4, 8);
  for (let k = 0; k < n; k++) {
    const cat = pick([1, 1, 2, 3, 17, 18]);
    const crowd = cat <= 3 && rnd() < 0.2 ? 1 : 0;
    const x0 = int(0, W - 3),
      y0 = int(0, H - 3);
    const r = [100 + k, x0, y0, int(x0 + 1, Math.min(W - 1, x0 + 10)), int(y0 + 1, Math.min(H - 1, y0 + 8))];
    gtSegs.push(crowd ? [100 + k, cat, 1] : [100 + k, cat]);
    gtRects.push(r);
    if (rnd() < 0.15) continue; // missed
    const j = () => int(-2, 2);
    const clamp = (v, hi) => Math.max(0, Math.min(hi, v));
    const px0 = clamp(r[1] + j(), W - 1),
      py0 = clamp(r[2] + j(), H - 1);
    const pr = [500 + k, px0, py0, Math.max(px0, clamp(r[3] + j(), W - 1)), Math.max(py0, clamp(r[4] + j(), H - 1))];
    predSegs.push([500 + k, rnd() < 0.2 ? pick([1, 2, 3, 17, 18]) : cat]);
    predRects.push(pr);
  }
  if (rnd() < 0.7) {
    const x0 = int(0, W - 3),
      y0 = int(0, H - 3);
    predSegs.push([900, pick([1, 2, 3, 18])]);
    predRects.push([900, x0, y0, x0 + int(1, 4), y0 + int(1, 4)]);
  }
  scenes.push({ id: 5 + s, gt: { segs: gtSegs, rects: gtRects }, pred: { segs: predSegs, rects: predRects } });
}

mkdirSync(path.join(here, 'gt'), { recursive: true });
mkdirSync(path.join(here, 'pred'), { recursive: true });
const gtJson = { images: [], annotations: [], categories };
const predAnns = [];
for (const sc of scenes) {
  const gtIds = paint(sc.gt.rects);
  const predIds = paint(sc.pred.rects);
  // Later rectangles can hide a whole segment; keep segments_info to what the PNG shows.
  const gtSegs = sc.gt.segs.filter(([id]) => areaOf(gtIds, id) > 0);
  const predSegs = sc.pred.segs.filter(([id]) => areaOf(predIds, id) > 0);
  const gtName = `img${sc.id}.png`;
  const predName = `p${sc.id}.png`;
  writePng(path.join(here, 'gt', gtName), gtIds, false);
  writePng(path.join(here, 'pred', predName), predIds, sc.predRgba === true);
  gtJson.images.push({ id: sc.id, width: W, height: H, file_name: `img${sc.id}.jpg` });
  gtJson.annotations.push({
    image_id: sc.id,
    file_name: gtName,
    segments_info: gtSegs.map(([id, category_id, iscrowd = 0]) => ({
      id,
      category_id,
      iscrowd,
      area: areaOf(gtIds, id),
    })),
  });
  predAnns.push({
    image_id: sc.id,
    file_name: predName,
    segments_info: predSegs.map(([id, category_id]) => ({ id, category_id })),
  });
}
// Predictions listed in another order than the GT: images are matched by image_id.
predAnns.reverse();
writeFileSync(path.join(here, 'gt.json'), `${JSON.stringify(gtJson, null, 1)}\n`);
writeFileSync(path.join(here, 'pred.json'), `${JSON.stringify({ annotations: predAnns }, null, 1)}\n`);
