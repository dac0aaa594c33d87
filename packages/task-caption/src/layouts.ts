/**
 * The directory layouts `--data <dir>` (config `data.dir`) accepts, and which one a directory holds. Paths are
 * relative to the data directory:
 *
 *   synthetic   captions_{train,val,test}.json + {train,val,test}/     what writeCaptionDataset writes
 *   Karpathy    dataset_coco.json + the <filepath>/ folders it names    train = train + restval, val, test
 *   COCO 2017   annotations/captions_{train,val}2017.json + {train,val}2017/
 *   COCO 2014   annotations/captions_{train,val}2014.json + {train,val}2014/
 *
 * A directory holds the first layout in this order whose annotation file (for any split) is there. Karpathy comes
 * before COCO 2014 because its file lives in the COCO 2014 root, next to the 2014 images its filepaths name: a
 * directory with both is read through the split papers report on. Only the synthetic layout and Karpathy's file
 * have a test split (COCO's test images come without captions). Every problem is one line naming the directory and
 * what was expected.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import * as E from 'fp-ts/Either';

export const CAPTION_SPLITS = ['train', 'val', 'test'] as const;
export type CaptionSplitName = (typeof CAPTION_SPLITS)[number];

/** One split's annotation file and image root, in one of the two formats core-model reads. */
export type CaptionFiles =
  /** A COCO captions file and the directory its file_names are in. */
  | { readonly annotations: string; readonly imageDir: string }
  /** Karpathy's dataset_coco.json and the root its filepaths are relative to; `train` means train + restval. */
  | { readonly karpathy: string; readonly imageDir: string; readonly split: CaptionSplitName };

export interface CaptionLayout {
  readonly name: 'synthetic' | 'Karpathy' | 'COCO 2017' | 'COCO 2014';
  /** The files it needs, relative to the data directory (for errors and help). */
  readonly files: string;
  /** Whether `dir` holds this layout: its annotation file for some split is there. */
  matches(dir: string): boolean;
  /** Where `split` is under `dir`, or one line saying why this layout has no such split there. */
  split(dir: string, split: CaptionSplitName): E.Either<string, CaptionFiles>;
}

/** The synthetic layout's captions file of a split. */
export const captionFile = (dir: string, split: CaptionSplitName): string => path.join(dir, `captions_${split}.json`);

type PerSplit = Partial<Record<CaptionSplitName, (dir: string) => { annotations: string; imageDir: string }>>;

/** A layout with one COCO captions file and one image folder per split it has. */
function perSplitLayout(name: CaptionLayout['name'], files: string, splits: PerSplit): CaptionLayout {
  const have = CAPTION_SPLITS.filter((s) => splits[s] !== undefined);
  return {
    name,
    files,
    matches: (dir) => Object.values(splits).some((at) => existsSync(at(dir).annotations)),
    split: (dir, split) => {
      const at = splits[split];
      if (at === undefined)
        return E.left(`${dir}: the ${name} layout has no ${split} split (it has ${have.join(' and ')})`);
      const f = at(dir);
      return existsSync(f.annotations)
        ? E.right(f)
        : E.left(`${dir}: no ${split} split in the ${name} layout (expected ${f.annotations})`);
    },
  };
}

const cocoYear = (year: number): CaptionLayout =>
  perSplitLayout(
    `COCO ${year}` as CaptionLayout['name'],
    `annotations/captions_{train,val}${year}.json + {train,val}${year}/`,
    {
      train: (dir) => ({
        annotations: path.join(dir, 'annotations', `captions_train${year}.json`),
        imageDir: path.join(dir, `train${year}`),
      }),
      val: (dir) => ({
        annotations: path.join(dir, 'annotations', `captions_val${year}.json`),
        imageDir: path.join(dir, `val${year}`),
      }),
    },
  );

const KARPATHY_FILE = 'dataset_coco.json';

/** The accepted layouts, in the order a directory is matched against them. */
export const CAPTION_LAYOUTS: readonly CaptionLayout[] = [
  perSplitLayout('synthetic', 'captions_{train,val,test}.json + {train,val,test}/', {
    train: (dir) => ({ annotations: captionFile(dir, 'train'), imageDir: path.join(dir, 'train') }),
    val: (dir) => ({ annotations: captionFile(dir, 'val'), imageDir: path.join(dir, 'val') }),
    test: (dir) => ({ annotations: captionFile(dir, 'test'), imageDir: path.join(dir, 'test') }),
  }),
  {
    name: 'Karpathy',
    files: `${KARPATHY_FILE} + the <filepath>/ folders it names, splits train+restval, val, test`,
    matches: (dir) => existsSync(path.join(dir, KARPATHY_FILE)),
    // Whether the file has images in `split` is the reader's to say (one line naming the file).
    split: (dir, split) => E.right({ karpathy: path.join(dir, KARPATHY_FILE), imageDir: dir, split }),
  },
  cocoYear(2017),
  cocoYear(2014),
];

/** "synthetic (…); Karpathy (…); …": the accepted layouts, for one-line errors and help texts. */
export const acceptedLayouts = (): string => CAPTION_LAYOUTS.map((l) => `${l.name} (${l.files})`).join('; ');

const isDirectory = (dir: string): boolean => {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
};

/** The layout `dir` holds, or one line naming the directory and listing the accepted layouts. */
export function detectCaptionLayout(dir: string): E.Either<string, CaptionLayout> {
  if (!isDirectory(dir))
    return E.left(`${dir}: no such directory; caption data takes one of these layouts: ${acceptedLayouts()}`);
  const found = CAPTION_LAYOUTS.find((l) => l.matches(dir));
  return found === undefined
    ? E.left(`${dir}: no caption data layout found; accepted layouts: ${acceptedLayouts()}`)
    : E.right(found);
}

/** Where `split` is under `dir`, whichever accepted layout `dir` holds. */
export const captionSplitFiles = (dir: string, split: CaptionSplitName): E.Either<string, CaptionFiles> =>
  E.chain((layout: CaptionLayout) => layout.split(dir, split))(detectCaptionLayout(dir));
