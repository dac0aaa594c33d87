import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { encodePng } from './image';
import { parseCocoCaptions, parseKarpathySplit, readCocoCaptions, readKarpathySplit } from './coco-captions';

const ok = <A>(e: E.Either<string, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left);
  return e.right;
};

const C = 'captions_val2014.json';
const K = 'dataset_coco.json';

function captions() {
  return {
    images: [
      { id: 42, file_name: 'a.png', width: 2, height: 2 },
      { id: 9, file_name: 'b.png', width: 3, height: 1 },
    ],
    annotations: [
      { id: 1, image_id: 42, caption: 'A dog on grass.' },
      { id: 2, image_id: 9, caption: 'Two cats.' },
      { id: 3, image_id: 42, caption: 'a brown dog' },
    ],
  };
}

function karpathy() {
  const sent = (raw: string) => ({
    raw,
    tokens: raw.toLowerCase().replace(/[.]/g, '').split(' '),
    imgid: 0,
    sentid: 0,
  });
  return {
    dataset: 'coco',
    images: [
      {
        filepath: 'val2014',
        filename: 'x.png',
        imgid: 0,
        split: 'test',
        cocoid: 391895,
        sentids: [],
        sentences: [sent('A man rides.'), sent('Bike ride')],
      },
      {
        filepath: 'train2014',
        filename: 'y.png',
        imgid: 1,
        split: 'train',
        cocoid: 7,
        sentids: [],
        sentences: [sent('A kitchen')],
      },
      {
        filepath: 'val2014',
        filename: 'z.png',
        imgid: 2,
        split: 'restval',
        cocoid: 8,
        sentids: [],
        sentences: [sent('Sky')],
      },
    ],
  };
}

describe('COCO captions', () => {
  it('groups references per image, in file order', () => {
    const ds = ok(parseCocoCaptions(captions(), C));
    expect(ds.images).toEqual([
      { id: 42, fileName: 'a.png', width: 2, height: 2, references: ['A dog on grass.', 'a brown dog'] },
      { id: 9, fileName: 'b.png', width: 3, height: 1, references: ['Two cats.'] },
    ]);
  });

  it('reports problems with file and field', () => {
    const f = captions();
    f.annotations[1].image_id = 5;
    expect(parseCocoCaptions(f, C)).toEqual(E.left(`${C}: annotations[1].image_id: no image with id 5`));
    const g = captions();
    g.annotations = g.annotations.filter((a) => a.image_id !== 9);
    expect(parseCocoCaptions(g, C)).toEqual(E.left(`${C}: images[1]: image 9 has no captions`));
    const h = captions();
    h.annotations[2].caption = '  ';
    expect(parseCocoCaptions(h, C)).toEqual(E.left(`${C}: annotations[2].caption: empty caption`));
    const i = captions();
    (i.annotations[0] as { caption: unknown }).caption = 3;
    expect(parseCocoCaptions(i, C)).toEqual(
      E.left(`${C}: annotations[0].caption: Invalid input: expected string, received number`),
    );
    expect(parseCocoCaptions({ images: [], annotations: [] }, C)).toEqual(
      E.left(`${C}: images: dataset has no images`),
    );
    const j = captions();
    j.annotations[2].id = 1;
    expect(parseCocoCaptions(j, C)).toEqual(E.left(`${C}: annotations[2].id: duplicate id 1 (also at annotations[0])`));
  });

  it('checks files under the image directory and loads images lazily', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cm-cap-'));
    const file = path.join(dir, C);
    writeFileSync(file, JSON.stringify(captions()));
    writeFileSync(path.join(dir, 'a.png'), encodePng({ width: 2, height: 2, data: new Uint8Array(12).fill(255) }));
    expect(readCocoCaptions(file, { imageDir: dir })).toEqual(
      E.left(`${file}: images[1].file_name: file not found: ${path.join(dir, 'b.png')}`),
    );
    writeFileSync(path.join(dir, 'b.png'), encodePng({ width: 3, height: 1, data: new Uint8Array(9) }));
    const ds = ok(readCocoCaptions(file, { imageDir: dir }));
    expect(Array.from(ok(ds.loadImage(ds.images[0], { height: 1, width: 1 })).pixels)).toEqual([1, 1, 1]);
  });
});

describe('Karpathy split', () => {
  it('keeps the requested splits with references, tokens and filepath/filename', () => {
    const all = ok(parseKarpathySplit(karpathy(), K));
    expect(all.images.map((i) => [i.id, i.split])).toEqual([
      [391895, 'test'],
      [7, 'train'],
      [8, 'restval'],
    ]);
    const test = ok(parseKarpathySplit(karpathy(), K, { splits: ['test'] }));
    expect(test.images).toEqual([
      {
        id: 391895,
        fileName: 'val2014/x.png',
        split: 'test',
        references: ['A man rides.', 'Bike ride'],
        tokens: [
          ['a', 'man', 'rides'],
          ['bike', 'ride'],
        ],
      },
    ]);
    expect(ok(parseKarpathySplit(karpathy(), K, { splits: ['train', 'restval'] })).images.map((i) => i.id)).toEqual([
      7, 8,
    ]);
  });

  it('reports problems with file and field', () => {
    const a = karpathy();
    a.images[1].split = 'dev';
    expect(parseKarpathySplit(a, K)).toEqual(
      E.left(`${K}: images[1].split: Invalid option: expected one of "train"|"val"|"test"|"restval"`),
    );
    const b = karpathy();
    b.images[2].cocoid = 7;
    expect(parseKarpathySplit(b, K)).toEqual(E.left(`${K}: images[2].cocoid: duplicate id 7 (also at images[1])`));
    const c = karpathy();
    c.images[0].sentences = [];
    expect(parseKarpathySplit(c, K)).toEqual(E.left(`${K}: images[0].sentences: image 391895 has no captions`));
    const d = karpathy();
    delete (d.images[0].sentences[1] as { tokens?: unknown }).tokens;
    expect(parseKarpathySplit(d, K)).toEqual(
      E.left(`${K}: images[0].sentences[1].tokens: Invalid input: expected array, received undefined`),
    );
    const e = karpathy();
    e.images = e.images.filter((i) => i.split !== 'val');
    expect(parseKarpathySplit(e, K, { splits: ['val'] })).toEqual(E.left(`${K}: images: no images in split val`));
  });

  it('reads the file and checks image files under the root', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cm-karp-'));
    const file = path.join(dir, K);
    writeFileSync(file, JSON.stringify(karpathy()));
    mkdirSync(path.join(dir, 'val2014'));
    expect(readKarpathySplit(file, { imageDir: dir, splits: ['test'] })).toEqual(
      E.left(`${file}: images[0].filename: file not found: ${path.join(dir, 'val2014', 'x.png')}`),
    );
  });
});
