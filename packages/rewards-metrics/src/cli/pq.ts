/**
 * `rewards-metrics pq --gt-json gt.json --gt-dir gt/ --pred-json pred.json --pred-dir pred/ [--json]`: Panoptic
 * Quality of COCO-panoptic-format predictions, as panopticapi's pq_compute reports it.
 *
 * GT and prediction annotations are paired by image_id; each `annotations[].file_name` is a PNG in the matching
 * folder. Everything panopticapi would trip on (or silently misread) is an input error naming the file: a GT image
 * without prediction, a prediction for an image the GT does not have, a PNG whose size differs from the GT
 * `images` entry, a segment id in a PNG missing from segments_info or the reverse, a GT `area` that disagrees with
 * its PNG (panopticapi trusts the JSON area, this tool counts pixels; the two must agree for the same numbers).
 */
import path from 'node:path';
import * as E from 'fp-ts/Either';
import { PNG } from 'pngjs';
import { z } from 'zod';
import { InputError, orThrow, parseFlags, readBytes, readJsonAs, required } from './io';
import {
  panopticImageStats,
  PqAccumulator,
  rgbToSegmentIds,
  VOID,
  type PanopticImage,
  type PqResult,
} from '../panoptic-quality';

const imageId = z.union([z.number().int(), z.string()]);
const segment = z.object({ id: z.number().int().nonnegative(), category_id: z.number().int() });
const gtSchema = z.object({
  images: z.array(z.object({ id: imageId, width: z.number().int().positive(), height: z.number().int().positive() })),
  annotations: z.array(
    z.object({
      image_id: imageId,
      file_name: z.string(),
      segments_info: z.array(segment.extend({ iscrowd: z.number().int(), area: z.number().optional() })),
    }),
  ),
  categories: z.array(
    z.object({ id: z.number().int(), name: z.string().optional(), isthing: z.union([z.number().int(), z.boolean()]) }),
  ),
});
const predSchema = z.object({
  annotations: z.array(z.object({ image_id: imageId, file_name: z.string(), segments_info: z.array(segment) })),
});
type GtJson = z.infer<typeof gtSchema>;

// 1 and "1" are different image ids, as in panopticapi's dicts.
const key = (id: number | string): string => JSON.stringify(id);

/** A panoptic PNG: 8-bit RGB or RGBA (ids from a palette or grey levels would not be panopticapi's). */
function readPanopticPng(file: string): E.Either<string, { width: number; height: number; ids: Uint32Array }> {
  return E.chain((buf: Buffer) => {
    if (buf.length < 26 || buf.readUInt32BE(0) !== 0x89504e47) return E.left(`${file}: not a PNG image`);
    const depth = buf[24];
    const colorType = buf[25];
    if (depth !== 8 || (colorType !== 2 && colorType !== 6)) {
      return E.left(`${file}: expected an 8-bit RGB or RGBA PNG (bit depth ${depth}, colour type ${colorType})`);
    }
    try {
      const png = PNG.sync.read(buf);
      return E.right({
        width: png.width,
        height: png.height,
        ids: rgbToSegmentIds({ width: png.width, height: png.height, channels: 4, data: png.data }),
      });
    } catch (err) {
      return E.left(`${file}: cannot decode image (${(err as Error).message})`);
    }
  })(readBytes(file));
}

/** Pixels per segment id; runs along rows keep the Map traffic low. */
function pixelCounts(ids: Uint32Array): Map<number, number> {
  const counts = new Map<number, number>();
  let last = ids.length > 0 ? ids[0] : VOID;
  let run = 0;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] === last) {
      run++;
      continue;
    }
    counts.set(last, (counts.get(last) ?? 0) + run);
    last = ids[i];
    run = 1;
  }
  if (run > 0) counts.set(last, (counts.get(last) ?? 0) + run);
  return counts;
}

export interface PqFiles {
  readonly gtJson: string;
  readonly gtDir: string;
  readonly predJson: string;
  readonly predDir: string;
}

/** Reads, checks and scores the files; every problem is an InputError of one line. */
export function pqFromFiles(files: PqFiles): { result: PqResult; gt: GtJson } {
  const gt = orThrow(readJsonAs(gtSchema, files.gtJson));
  const pred = orThrow(readJsonAs(predSchema, files.predJson));

  const sizes = new Map<string, { width: number; height: number }>();
  gt.images.forEach((im, i) => {
    if (sizes.has(key(im.id)))
      throw new InputError(`${files.gtJson}: images[${i}]: image id ${key(im.id)} listed twice`);
    sizes.set(key(im.id), im);
  });
  const preds = new Map<string, (typeof pred.annotations)[number]>();
  const gtIds = new Set(gt.annotations.map((a) => key(a.image_id)));
  pred.annotations.forEach((a, i) => {
    const where = `${files.predJson}: annotations[${i}]: image_id ${key(a.image_id)}`;
    if (!gtIds.has(key(a.image_id))) throw new InputError(`${where} is not an image of the ground truth`);
    if (preds.has(key(a.image_id))) throw new InputError(`${where} has a second prediction`);
    preds.set(key(a.image_id), a);
  });

  const acc = new PqAccumulator(gt.categories);
  const seen = new Set<string>();
  gt.annotations.forEach((ann, i) => {
    const id = key(ann.image_id);
    const where = `${files.gtJson}: annotations[${i}]: image_id ${id}`;
    if (seen.has(id)) throw new InputError(`${where} is annotated twice`);
    seen.add(id);
    const size = sizes.get(id);
    if (!size) throw new InputError(`${where} has no entry in "images"`);
    const p = preds.get(id);
    if (!p) throw new InputError(`${files.predJson}: no prediction for image_id ${id}`);

    const gtFile = path.join(files.gtDir, ann.file_name);
    const predFile = path.join(files.predDir, p.file_name);
    const load = (file: string, segments: PanopticImage['segments']): PanopticImage => {
      const png = orThrow(readPanopticPng(file));
      if (png.width !== size.width || png.height !== size.height) {
        throw new InputError(
          `${file}: size ${png.width}×${png.height} differs from ${size.width}×${size.height} of image_id ${id} in ${files.gtJson}`,
        );
      }
      return { ...png, segments };
    };
    const gtImg = load(gtFile, ann.segments_info);
    const predImg = load(predFile, p.segments_info);

    if (ann.segments_info.some((s) => s.area !== undefined)) {
      const counts = pixelCounts(gtImg.ids);
      for (const s of ann.segments_info) {
        const px = counts.get(s.id) ?? 0;
        if (s.area !== undefined && px !== 0 && s.area !== px) {
          throw new InputError(`${where}: segment id ${s.id} has area ${s.area} but ${px} pixels in ${gtFile}`);
        }
      }
    }

    const stats = panopticImageStats(gtImg, predImg, gt.categories);
    if (E.isLeft(stats)) {
      const [json, png] = stats.left.side === 'gt' ? [files.gtJson, gtFile] : [files.predJson, predFile];
      throw new InputError(`${json}: image_id ${id} (${png}): ${stats.left.message}`);
    }
    acc.addStats(stats.right);
  });
  return { result: acc.result(), gt };
}

/**
 * One decimal as Python's `{:.1f}` writes it: exact ties (x.25, x.75 are the only ones a double can hold) go to the
 * even digit, where toFixed would round x.25 up.
 */
export function pyFixed1(x: number): string {
  if (Number.isInteger(4 * x) && ((4 * x) % 4 === 1 || (4 * x) % 4 === -3)) return (x - 0.05).toFixed(1);
  return x.toFixed(1);
}

/** panopticapi's summary table (percentages), then one line per category. */
export function formatTable(result: PqResult, categories: GtJson['categories']): string {
  const pct = (x: number): string => pyFixed1(100 * x).padStart(5);
  const lines = [
    `${''.padEnd(10)}| ${'PQ'.padStart(5)}  ${'SQ'.padStart(5)}  ${'RQ'.padStart(5)} ${'N'.padStart(5)}`,
    '-'.repeat(38),
  ];
  for (const name of ['All', 'Things', 'Stuff'] as const) {
    const r = result[name];
    lines.push(`${name.padEnd(10)}| ${pct(r.pq)}  ${pct(r.sq)}  ${pct(r.rq)} ${String(r.n).padStart(5)}`);
  }
  lines.push(
    '',
    `${'category'.padEnd(28)}| ${'PQ'.padStart(5)}  ${'SQ'.padStart(5)}  ${'RQ'.padStart(5)}`,
    '-'.repeat(49),
  );
  for (const c of categories) {
    const r = result.per_class[String(c.id)];
    const label = `${c.id} ${c.name ?? ''} (${c.isthing === 1 || c.isthing === true ? 'thing' : 'stuff'})`;
    lines.push(`${label.slice(0, 28).padEnd(28)}| ${pct(r.pq)}  ${pct(r.sq)}  ${pct(r.rq)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function run(args: readonly string[]): number {
  const { values } = parseFlags(args, {
    'gt-json': { type: 'string' },
    'gt-dir': { type: 'string' },
    'pred-json': { type: 'string' },
    'pred-dir': { type: 'string' },
    json: { type: 'boolean' },
  });
  const files = {
    gtJson: required(values, 'gt-json'),
    gtDir: required(values, 'gt-dir'),
    predJson: required(values, 'pred-json'),
    predDir: required(values, 'pred-dir'),
  };
  const { result, gt } = pqFromFiles(files);
  if (values.json === true) {
    const { All, Things, Stuff, per_class } = result;
    process.stdout.write(`${JSON.stringify({ All, Things, Stuff, per_class })}\n`);
  } else {
    process.stdout.write(formatTable(result, gt.categories));
  }
  return 0;
}
