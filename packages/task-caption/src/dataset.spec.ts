// Caption datasets on disk: what writeCaptionDataset writes, that it is idempotent and extends consistently, and
// that loadCaptionSplit reads it (and COCO / Karpathy files, and data directories in the COCO and Karpathy layouts)
// back, with one-line errors naming file and field.
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  existsSync,
  readdirSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { encodePng, readImage } from '@reward-tune/core-model';
import { acceptedLayouts, loadCaptionSplit, writeCaptionDataset, type CaptionSplit } from './dataset';
import { generateCaptionedScene } from './synthetic';

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'caption-data-'));
const right = <A>(e: E.Either<string, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left);
  return e.right;
};
const left = <A>(e: E.Either<string, A>): string => {
  if (E.isRight(e)) throw new Error('expected an error');
  expect(e.left).not.toContain('\n');
  return e.left;
};
const params = { seed: 11, trainImages: 3, valImages: 2, size: 16 };

describe('writeCaptionDataset', () => {
  let dir: string;
  beforeEach(() => (dir = tmp()));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes PNGs and COCO captions files holding exactly the generated scenes', () => {
    const progress: number[] = [];
    const out = right(writeCaptionDataset(dir, params, (done) => progress.push(done)));
    expect(out.generated).toBe(true);
    expect(progress).toEqual([1, 2, 3, 4, 5]);
    for (const [stream, split, n] of [
      [0, 'train', 3],
      [1, 'val', 2],
    ] as const) {
      const json = JSON.parse(readFileSync(path.join(dir, `captions_${split}.json`), 'utf8'));
      expect(json.images).toHaveLength(n);
      expect(json.annotations).toHaveLength(5 * n);
      expect(new Set(json.annotations.map((a: { id: number }) => a.id)).size).toBe(5 * n);
      for (let i = 0; i < n; i++) {
        const scene = generateCaptionedScene({ seed: 11, stream, size: 16 }, i);
        const im = json.images[i];
        expect(im).toEqual({ id: i + 1, file_name: `00000${i}.png`, width: 16, height: 16 });
        const caps = json.annotations
          .filter((a: { image_id: number }) => a.image_id === im.id)
          .map((a: { caption: string }) => a.caption);
        expect(caps).toEqual(scene.captions);
        const png = right(readImage(path.join(dir, split, im.file_name)));
        expect(Buffer.from(png.data).equals(Buffer.from(scene.image.rgb))).toBe(true); // PNG is lossless
      }
    }
    expect(JSON.parse(readFileSync(path.join(dir, 'synthetic.json'), 'utf8'))).toMatchObject({
      ...params,
      maxObjects: 4,
    });
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('skips a complete dataset with the same parameters, regenerates otherwise', () => {
    right(writeCaptionDataset(dir, params));
    const caps = path.join(dir, 'captions_train.json');
    const before = statSync(caps).mtimeMs;
    expect(right(writeCaptionDataset(dir, params)).generated).toBe(false);
    expect(statSync(caps).mtimeMs).toBe(before);

    unlinkSync(path.join(dir, 'val', '000001.png')); // incomplete → regenerated
    expect(right(writeCaptionDataset(dir, params)).generated).toBe(true);
    expect(existsSync(path.join(dir, 'val', '000001.png'))).toBe(true);

    unlinkSync(path.join(dir, 'synthetic.json')); // as after an interrupted run
    expect(right(writeCaptionDataset(dir, params)).generated).toBe(true);
    expect(right(writeCaptionDataset(dir, { ...params, seed: 12 })).generated).toBe(true);
  });

  it('image i is the same whatever the dataset size; shrinking removes leftover images', () => {
    right(writeCaptionDataset(dir, { ...params, trainImages: 5 }));
    const big = JSON.parse(readFileSync(path.join(dir, 'captions_train.json'), 'utf8'));
    const bigPng = readFileSync(path.join(dir, 'train', '000002.png'));
    right(writeCaptionDataset(dir, params));
    const small = JSON.parse(readFileSync(path.join(dir, 'captions_train.json'), 'utf8'));
    expect(small.annotations).toEqual(big.annotations.slice(0, 15));
    expect(readFileSync(path.join(dir, 'train', '000002.png')).equals(bigPng)).toBe(true);
    expect(readdirSync(path.join(dir, 'train')).sort()).toEqual(['000000.png', '000001.png', '000002.png']);
  });

  it('refuses bad parameters with one line naming the parameter', () => {
    expect(left(writeCaptionDataset(dir, { ...params, size: 4 }))).toBe(
      'synthetic caption data: size: expected an integer in 8..4096, got 4',
    );
    expect(left(writeCaptionDataset(dir, { ...params, valImages: 1.5 }))).toContain('valImages');
    expect(left(writeCaptionDataset(dir, { ...params, maxObjects: 9 }))).toContain('maxObjects');
  });
});

describe('the held-out test split', () => {
  let dir: string;
  beforeEach(() => (dir = tmp()));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const sha = (parts: (Uint8Array | string)[]): string => {
    const h = createHash('sha256');
    for (const p of parts) h.update(p);
    return h.digest('hex');
  };

  it('train and val scenes are those of before the test split (pinned hashes); the test stream shares none', () => {
    // sha256 of the first 5 scenes' pixels and captions of streams 0 (train) and 1 (val), seed 0, 64 px, computed
    // before the test split (stream 2) was added.
    const first5 = (stream: number) =>
      sha(
        Array.from({ length: 5 }, (_, i) =>
          generateCaptionedScene({ seed: 0, stream, size: 64, maxObjects: 4 }, i),
        ).flatMap((s) => [s.image.rgb, s.captions.join('|')]),
      );
    expect(first5(0)).toBe('49484c44b065d573e38b00c0b9d58e20158ebd22a1de8ad3f4d9702441279284');
    expect(first5(1)).toBe('3f240b25bc73c202dc9bc85b5f0d9fd12f1e39f6db0b2f593a55a2eecd10f2ef');
    const seen = new Map<string, number>();
    for (const stream of [0, 1, 2]) {
      for (let i = 0; i < 100; i++) {
        const key = sha([generateCaptionedScene({ seed: 0, stream, size: 32 }, i).image.rgb]);
        expect([stream, seen.get(key)]).toEqual([stream, undefined]);
        seen.set(key, stream);
      }
    }
    expect(seen.size).toBe(300);
  });

  it('is written with a marker of its own: train and val files and marker stay as they were', () => {
    right(writeCaptionDataset(dir, params));
    const marker = readFileSync(path.join(dir, 'synthetic.json'), 'utf8');
    const before = statSync(path.join(dir, 'captions_val.json')).mtimeMs;
    const out = right(writeCaptionDataset(dir, { ...params, testImages: 2 }));
    expect([out.generated, out.captionFiles.test]).toEqual([true, path.join(dir, 'captions_test.json')]);
    expect(readFileSync(path.join(dir, 'synthetic.json'), 'utf8')).toBe(marker);
    expect(statSync(path.join(dir, 'captions_val.json')).mtimeMs).toBe(before);
    const test = JSON.parse(readFileSync(path.join(dir, 'captions_test.json'), 'utf8'));
    const scene = generateCaptionedScene({ seed: 11, stream: 2, size: 16 }, 1);
    expect(
      test.annotations.filter((a: { image_id: number }) => a.image_id === 2).map((a: { caption: string }) => a.caption),
    ).toEqual(scene.captions);
    expect(right(writeCaptionDataset(dir, { ...params, testImages: 2 })).generated).toBe(false);
    const split = right(loadCaptionSplit({ dir, split: 'test' }, { imageSize: 16 }));
    expect(split.examples).toHaveLength(2);
  });
});

describe('loadCaptionSplit', () => {
  let dir: string;
  beforeAll(() => {
    dir = tmp();
    right(writeCaptionDataset(dir, params));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const checkTrain = (split: CaptionSplit): void => {
    expect(split.examples.map((e) => e.id)).toEqual([1, 2, 3]);
    expect(split.examples[1].references).toEqual(generateCaptionedScene({ seed: 11, stream: 0, size: 16 }, 1).captions);
  };

  it('reads the synthetic layout, loading images lazily at the model size in [−1, 1]', () => {
    const split = right(loadCaptionSplit({ dir, split: 'train' }, { imageSize: 8 }));
    expect(split.file).toBe(path.join(dir, 'captions_train.json'));
    checkTrain(split);
    const img = right(split.loadImage(2));
    expect([img.height, img.width, img.sourceHeight, img.pixels.length]).toEqual([8, 8, 16, 8 * 8 * 3]);
    expect(Math.min(...img.pixels)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...img.pixels)).toBeLessThanOrEqual(1);
    // At the source size, no resampling: pixel = byte / 255 · 2 − 1.
    const full = right(right(loadCaptionSplit({ dir, split: 'val' }, { imageSize: 16 })).loadImage(0));
    const rgb = generateCaptionedScene({ seed: 11, stream: 1, size: 16 }, 0).image.rgb;
    expect(full.pixels[5]).toBeCloseTo((rgb[5] / 255) * 2 - 1, 6);
    expect(() => split.loadImage(3)).toThrow(RangeError);
  });

  it('reads a COCO captions file with an image directory, normalising the references', () => {
    const split = right(
      loadCaptionSplit(
        { annotations: path.join(dir, 'captions_train.json'), imageDir: path.join(dir, 'train') },
        { imageSize: 16, normalize: (c) => c.toUpperCase() },
      ),
    );
    expect(split.examples[0].references[0]).toBe(
      generateCaptionedScene({ seed: 11, stream: 0, size: 16 }, 0).captions[0].toUpperCase(),
    );
  });

  it('reads a Karpathy file: train is train + restval, val and test their own splits', () => {
    const coco = JSON.parse(readFileSync(path.join(dir, 'captions_train.json'), 'utf8'));
    const splits = ['train', 'restval', 'val'];
    const karpathy = {
      images: coco.images.map((im: { id: number; file_name: string }, i: number) => ({
        filepath: 'train',
        filename: im.file_name,
        split: splits[i],
        cocoid: im.id,
        sentences: coco.annotations
          .filter((a: { image_id: number }) => a.image_id === im.id)
          .map((a: { caption: string }) => ({ raw: a.caption, tokens: a.caption.split(' ') })),
      })),
    };
    const file = path.join(dir, 'dataset_coco.json');
    writeFileSync(file, JSON.stringify(karpathy));
    const train = right(loadCaptionSplit({ karpathy: file, imageDir: dir, split: 'train' }, { imageSize: 8 }));
    expect(train.examples.map((e) => [e.id, e.fileName])).toEqual([
      [1, 'train/000000.png'],
      [2, 'train/000001.png'],
    ]);
    expect(train.examples[1].references).toEqual(generateCaptionedScene({ seed: 11, stream: 0, size: 16 }, 1).captions);
    expect(right(train.loadImage(1)).pixels.length).toBe(8 * 8 * 3);
    expect(
      right(loadCaptionSplit({ karpathy: file, imageDir: dir, split: 'val' }, { imageSize: 8 })).examples.map(
        (e) => e.id,
      ),
    ).toEqual([3]);
    expect(left(loadCaptionSplit({ karpathy: file, imageDir: dir, split: 'test' }, { imageSize: 8 }))).toBe(
      `${file}: images: no images in split test`,
    );
  });

  describe('bad inputs, one line naming the file and the field', () => {
    const write = (name: string, json: unknown): string => {
      const f = path.join(dir, name);
      writeFileSync(f, JSON.stringify(json));
      return f;
    };
    const image = { id: 1, file_name: '000000.png', width: 16, height: 16 };
    const imageDir = (): string => path.join(dir, 'train');

    it('a captions file without annotations', () => {
      const f = write('no-annotations.json', { images: [image] });
      expect(left(loadCaptionSplit({ annotations: f, imageDir: imageDir() }, { imageSize: 8 }))).toMatch(
        new RegExp(`^${f}: annotations: .*expected array`),
      );
    });

    it('an annotation whose image id has no image', () => {
      const f = write('orphan.json', {
        images: [image],
        annotations: [
          { id: 1, image_id: 1, caption: 'a box' },
          { id: 2, image_id: 99, caption: 'a box' },
        ],
      });
      expect(left(loadCaptionSplit({ annotations: f, imageDir: imageDir() }, { imageSize: 8 }))).toBe(
        `${f}: annotations[1].image_id: no image with id 99`,
      );
    });

    it('a missing image file', () => {
      const f = write('missing-image.json', {
        images: [image, { ...image, id: 2, file_name: 'nope.png' }],
        annotations: [
          { id: 1, image_id: 1, caption: 'a' },
          { id: 2, image_id: 2, caption: 'b' },
        ],
      });
      expect(left(loadCaptionSplit({ annotations: f, imageDir: imageDir() }, { imageSize: 8 }))).toBe(
        `${f}: images[1].file_name: file not found: ${path.join(imageDir(), 'nope.png')}`,
      );
    });

    it('an image whose size differs from the declared one (found when it is loaded)', () => {
      const f = write('wrong-size.json', {
        images: [{ ...image, width: 20 }],
        annotations: [{ id: 1, image_id: 1, caption: 'a box' }],
      });
      const split = right(loadCaptionSplit({ annotations: f, imageDir: imageDir() }, { imageSize: 8 }));
      expect(left(split.loadImage(0))).toContain(`but ${f} declares 20×16 for image 1`);
    });

    it('a reference that normalises to nothing, and a missing dataset directory', () => {
      const f = write('punct.json', {
        images: [image],
        annotations: [
          { id: 1, image_id: 1, caption: 'a box' },
          { id: 2, image_id: 1, caption: '...' },
        ],
      });
      const strip = (c: string): string => c.replace(/[^a-z ]/g, '');
      expect(left(loadCaptionSplit({ annotations: f, imageDir: imageDir() }, { imageSize: 8, normalize: strip }))).toBe(
        `${f}: image 1: reference 1 ("...") is empty after normalisation`,
      );
      const nowhere = path.join(dir, 'nowhere');
      expect(left(loadCaptionSplit({ dir: nowhere, split: 'val' }, { imageSize: 8 }))).toBe(
        `${nowhere}: no such directory; caption data takes one of these layouts: ${acceptedLayouts()}`,
      );
    });
  });
});

describe('loadCaptionSplit on a data directory in a real layout', () => {
  let root: string;
  beforeAll(() => (root = tmp()));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** A 4×4 image of one colour; `shade` tells the images apart. */
  const rgb = (shade: number): Uint8Array => new Uint8Array(4 * 4 * 3).fill(shade);
  // The decoder goes by a file's signature, not its name, so PNG bytes stand in for COCO's JPEGs here (JPEG
  // decoding is tested in core-model's image spec).
  const writeImage = (file: string, shade: number): void => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, encodePng({ width: 4, height: 4, data: rgb(shade) }));
  };
  const writeJson = (file: string, json: unknown): void => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(json));
  };
  /** COCO's naming: 000000000009.jpg for image 9. */
  const cocoName = (id: number): string => `${String(id).padStart(12, '0')}.jpg`;
  /** A COCO captions file for these image ids (two references each), and the images under `imageDir`. */
  const writeCoco = (annotations: string, imageDir: string, ids: readonly number[]): void => {
    writeJson(annotations, {
      info: { description: 'fixture' },
      images: ids.map((id) => ({ id, file_name: cocoName(id), width: 4, height: 4 })),
      annotations: ids.flatMap((id, i) => [
        { id: 2 * i + 1, image_id: id, caption: `A Shade ${id}.` },
        { id: 2 * i + 2, image_id: id, caption: `image number ${id}` },
      ]),
    });
    for (const id of ids) writeImage(path.join(imageDir, cocoName(id)), id);
  };
  const lower = (c: string): string => c.toLowerCase().replace(/[.]/g, '');
  const load = (dir: string, split: 'train' | 'val' | 'test'): CaptionSplit =>
    right(loadCaptionSplit({ dir, split }, { imageSize: 4, normalize: lower }));
  const pixel0 = (split: CaptionSplit, index: number): number => right(split.loadImage(index)).pixels[0];

  it.each([2017, 2014])('COCO %i: annotations/captions_<split>%i.json + <split>%i/', (year) => {
    const dir = path.join(root, `coco${year}`);
    writeCoco(path.join(dir, 'annotations', `captions_train${year}.json`), path.join(dir, `train${year}`), [9, 25]);
    writeCoco(path.join(dir, 'annotations', `captions_val${year}.json`), path.join(dir, `val${year}`), [139]);
    const train = load(dir, 'train');
    expect(train.file).toBe(path.join(dir, 'annotations', `captions_train${year}.json`));
    expect(train.examples).toEqual([
      { id: 9, fileName: cocoName(9), references: ['a shade 9', 'image number 9'] },
      { id: 25, fileName: cocoName(25), references: ['a shade 25', 'image number 25'] },
    ]);
    expect(pixel0(train, 1)).toBeCloseTo((25 / 255) * 2 - 1, 6);
    const val = load(dir, 'val');
    expect(val.examples.map((e) => e.id)).toEqual([139]);
    expect(pixel0(val, 0)).toBeCloseTo((139 / 255) * 2 - 1, 6);
    expect(left(loadCaptionSplit({ dir, split: 'test' }, { imageSize: 4 }))).toBe(
      `${dir}: the COCO ${year} layout has no test split (it has train and val)`,
    );
  });

  it('COCO 2017 with an image folder missing: the reader names the first image it cannot find', () => {
    const dir = path.join(root, 'coco-no-images');
    writeCoco(path.join(dir, 'annotations', 'captions_val2017.json'), path.join(root, 'elsewhere'), [5]);
    expect(left(loadCaptionSplit({ dir, split: 'val' }, { imageSize: 4 }))).toBe(
      `${path.join(dir, 'annotations', 'captions_val2017.json')}: images[0].file_name: file not found: ${path.join(dir, 'val2017', cocoName(5))}`,
    );
    expect(left(loadCaptionSplit({ dir, split: 'train' }, { imageSize: 4 }))).toBe(
      `${dir}: no train split in the COCO 2017 layout (expected ${path.join(dir, 'annotations', 'captions_train2017.json')})`,
    );
  });

  it("Karpathy: dataset_coco.json + the folders it names; train = train + restval, val, test; before COCO 2014's files", () => {
    const dir = path.join(root, 'karpathy');
    const entries: [number, string, string][] = [
      [9, 'train2014', 'train'],
      [30, 'val2014', 'test'],
      [25, 'train2014', 'restval'],
      [42, 'val2014', 'val'],
      [77, 'val2014', 'restval'],
    ];
    const name = (folder: string, id: number): string => `COCO_${folder}_${String(id).padStart(12, '0')}.jpg`;
    writeJson(path.join(dir, 'dataset_coco.json'), {
      dataset: 'coco',
      images: entries.map(([id, filepath, split], imgid) => ({
        filepath,
        filename: name(filepath, id),
        imgid,
        split,
        cocoid: id,
        sentids: [],
        sentences: [`A Shade ${id}.`, `image number ${id}`].map((raw) => ({
          raw,
          tokens: lower(raw).split(' '),
          imgid,
          sentid: 0,
        })),
      })),
    });
    for (const [id, folder] of entries) writeImage(path.join(dir, folder, name(folder, id)), id);
    // The COCO 2014 annotations next to it (where Karpathy's file belongs) are not what is read.
    writeCoco(path.join(dir, 'annotations', 'captions_val2014.json'), path.join(dir, 'val2014'), [1]);

    const train = load(dir, 'train');
    expect(train.file).toBe(path.join(dir, 'dataset_coco.json'));
    expect(train.examples.map((e) => [e.id, e.fileName])).toEqual([
      [9, 'train2014/COCO_train2014_000000000009.jpg'],
      [25, 'train2014/COCO_train2014_000000000025.jpg'],
      [77, 'val2014/COCO_val2014_000000000077.jpg'],
    ]);
    expect(train.examples[2].references).toEqual(['a shade 77', 'image number 77']);
    expect(pixel0(train, 2)).toBeCloseTo((77 / 255) * 2 - 1, 6);
    expect(load(dir, 'val').examples.map((e) => e.id)).toEqual([42]);
    const test = load(dir, 'test');
    expect(test.examples.map((e) => e.id)).toEqual([30]);
    expect(pixel0(test, 0)).toBeCloseTo((30 / 255) * 2 - 1, 6);
  });

  it('a directory in no layout: one line naming it and listing the accepted layouts', () => {
    const dir = path.join(root, 'detection-data');
    writeCoco(path.join(dir, 'instances_train.json'), path.join(dir, 'train'), [1]);
    const problem = left(loadCaptionSplit({ dir, split: 'train' }, { imageSize: 4 }));
    expect(problem).toBe(`${dir}: no caption data layout found; accepted layouts: ${acceptedLayouts()}`);
    for (const named of [
      'captions_{train,val,test}.json',
      'dataset_coco.json',
      'annotations/captions_{train,val}2017.json',
      '{train,val}2014/',
    ]) {
      expect(problem).toContain(named);
    }
  });
});
