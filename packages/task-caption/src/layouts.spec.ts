// Which layout a data directory holds, decided by which annotation files are there; the precedence when several
// are; and the one-line errors for a directory in no layout or a layout without the split asked for.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { acceptedLayouts, captionSplitFiles, detectCaptionLayout } from './layouts';

const ACCEPTED =
  'synthetic (captions_{train,val,test}.json + {train,val,test}/); ' +
  'Karpathy (dataset_coco.json + the <filepath>/ folders it names, splits train+restval, val, test); ' +
  'COCO 2017 (annotations/captions_{train,val}2017.json + {train,val}2017/); ' +
  'COCO 2014 (annotations/captions_{train,val}2014.json + {train,val}2014/)';

describe('caption data layouts', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(path.join(os.tmpdir(), 'caption-layouts-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  /** A directory holding exactly these (empty) files. */
  const dirWith = (...files: string[]): string => {
    const dir = mkdtempSync(path.join(root, 'd-'));
    for (const f of files) {
      mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      writeFileSync(path.join(dir, f), '{}');
    }
    return dir;
  };
  const layoutOf = (dir: string): string => {
    const found = detectCaptionLayout(dir);
    if (E.isLeft(found)) throw new Error(found.left);
    return found.right.name;
  };

  it('finds each layout by its annotation file, for either split', () => {
    expect(layoutOf(dirWith('captions_train.json', 'captions_val.json'))).toBe('synthetic');
    expect(layoutOf(dirWith('captions_val.json'))).toBe('synthetic');
    expect(layoutOf(dirWith('dataset_coco.json'))).toBe('Karpathy');
    expect(layoutOf(dirWith('annotations/captions_train2017.json', 'annotations/captions_val2017.json'))).toBe(
      'COCO 2017',
    );
    expect(layoutOf(dirWith('annotations/captions_val2014.json'))).toBe('COCO 2014');
  });

  it('prefers synthetic, then Karpathy (which sits in the COCO 2014 root), then COCO 2017, then 2014', () => {
    expect(layoutOf(dirWith('captions_train.json', 'dataset_coco.json', 'annotations/captions_train2017.json'))).toBe(
      'synthetic',
    );
    expect(
      layoutOf(
        dirWith('dataset_coco.json', 'annotations/captions_train2014.json', 'annotations/captions_val2014.json'),
      ),
    ).toBe('Karpathy');
    expect(layoutOf(dirWith('annotations/captions_train2017.json', 'annotations/captions_train2014.json'))).toBe(
      'COCO 2017',
    );
  });

  it('maps each split to its annotation file and image folder', () => {
    const coco = dirWith('annotations/captions_train2017.json', 'annotations/captions_val2017.json');
    expect(captionSplitFiles(coco, 'val')).toEqual(
      E.right({
        annotations: path.join(coco, 'annotations', 'captions_val2017.json'),
        imageDir: path.join(coco, 'val2017'),
      }),
    );
    const synthetic = dirWith('captions_train.json', 'captions_val.json');
    expect(captionSplitFiles(synthetic, 'train')).toEqual(
      E.right({ annotations: path.join(synthetic, 'captions_train.json'), imageDir: path.join(synthetic, 'train') }),
    );
    const karpathy = dirWith('dataset_coco.json');
    expect(captionSplitFiles(karpathy, 'test')).toEqual(
      E.right({ karpathy: path.join(karpathy, 'dataset_coco.json'), imageDir: karpathy, split: 'test' }),
    );
  });

  it('a layout without the split asked for says so, naming what it expected', () => {
    const coco = dirWith('annotations/captions_train2017.json');
    expect(captionSplitFiles(coco, 'val')).toEqual(
      E.left(
        `${coco}: no val split in the COCO 2017 layout (expected ${path.join(coco, 'annotations', 'captions_val2017.json')})`,
      ),
    );
    expect(captionSplitFiles(coco, 'test')).toEqual(
      E.left(`${coco}: the COCO 2017 layout has no test split (it has train and val)`),
    );
    // A synthetic directory written before the test split existed.
    const synthetic = dirWith('captions_train.json', 'captions_val.json');
    expect(captionSplitFiles(synthetic, 'test')).toEqual(
      E.left(
        `${synthetic}: no test split in the synthetic layout (expected ${path.join(synthetic, 'captions_test.json')})`,
      ),
    );
    const withTest = dirWith('captions_train.json', 'captions_val.json', 'captions_test.json');
    expect(captionSplitFiles(withTest, 'test')).toEqual(
      E.right({ annotations: path.join(withTest, 'captions_test.json'), imageDir: path.join(withTest, 'test') }),
    );
  });

  it('a directory in no layout, or no directory at all: one line listing the accepted layouts', () => {
    expect(acceptedLayouts()).toBe(ACCEPTED);
    // Near misses: the detection layout, Karpathy's file one level down, COCO's file outside annotations/.
    const none = dirWith('instances_train.json', 'annotations/dataset_coco.json', 'captions_train2017.json');
    expect(captionSplitFiles(none, 'train')).toEqual(
      E.left(`${none}: no caption data layout found; accepted layouts: ${ACCEPTED}`),
    );
    const missing = path.join(root, 'nowhere');
    expect(captionSplitFiles(missing, 'val')).toEqual(
      E.left(`${missing}: no such directory; caption data takes one of these layouts: ${ACCEPTED}`),
    );
    const file = path.join(dirWith('captions_train.json'), 'captions_train.json');
    expect(detectCaptionLayout(file)).toEqual(
      E.left(`${file}: no such directory; caption data takes one of these layouts: ${ACCEPTED}`),
    );
  });
});
