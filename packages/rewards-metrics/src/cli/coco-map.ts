/**
 * `rewards-metrics coco-map --gt instances.json --dt results.json [--json]`: COCO box mAP with pycocotools
 * semantics (see ../coco-eval.ts). With --json, one object on stdout:
 * `{"stats": [12 numbers], "per_category": {"<category id>": AP, ...}}`; without, pycocotools' summarize() lines
 * followed by one AP line per category.
 */
import { z } from 'zod';
import {
  CocoInputError,
  cocoEvaluate,
  COCO_IOU_THRESHOLDS,
  type CocoEvalResult,
  type CocoGroundTruth,
} from '../coco-eval';
import { InputError, orThrow, parseFlags, readJsonAs, required } from './io';

const flag = z.union([z.literal(0), z.literal(1), z.boolean()]);
const bbox = z.array(z.number()).length(4);

/** The part of a COCO instances file that box evaluation reads; other fields are allowed and ignored. */
export const cocoGroundTruthSchema = z.looseObject({
  images: z.array(z.looseObject({ id: z.number() })),
  categories: z.array(z.looseObject({ id: z.number(), name: z.string().optional() })),
  annotations: z.array(
    z.looseObject({
      id: z.number(),
      image_id: z.number(),
      category_id: z.number(),
      bbox,
      area: z.number(),
      iscrowd: flag,
      ignore: flag.optional(),
    }),
  ),
});

/** A COCO results file for boxes. */
export const cocoDetectionsSchema = z.array(
  z.looseObject({ image_id: z.number(), category_id: z.number(), bbox, score: z.number() }),
);

const SUMMARY_LINES: readonly { ap: boolean; iou?: number; area: string; maxDets: number }[] = [
  { ap: true, area: 'all', maxDets: 100 },
  { ap: true, iou: 0.5, area: 'all', maxDets: 100 },
  { ap: true, iou: 0.75, area: 'all', maxDets: 100 },
  { ap: true, area: 'small', maxDets: 100 },
  { ap: true, area: 'medium', maxDets: 100 },
  { ap: true, area: 'large', maxDets: 100 },
  { ap: false, area: 'all', maxDets: 1 },
  { ap: false, area: 'all', maxDets: 10 },
  { ap: false, area: 'all', maxDets: 100 },
  { ap: false, area: 'small', maxDets: 100 },
  { ap: false, area: 'medium', maxDets: 100 },
  { ap: false, area: 'large', maxDets: 100 },
];

/** The readable report: pycocotools' summarize() lines, then AP@[.5:.95] per category. */
export function formatCocoReport(r: CocoEvalResult, gt: Pick<CocoGroundTruth, 'categories'>): string {
  const ious = COCO_IOU_THRESHOLDS;
  const lines = SUMMARY_LINES.map(({ ap, iou, area, maxDets }, j) => {
    const title = (ap ? 'Average Precision' : 'Average Recall').padEnd(18);
    const iouStr = (
      iou === undefined ? `${ious[0].toFixed(2)}:${ious[ious.length - 1].toFixed(2)}` : iou.toFixed(2)
    ).padEnd(9);
    return ` ${title} ${ap ? '(AP)' : '(AR)'} @[ IoU=${iouStr} | area=${area.padStart(6)} | maxDets=${String(maxDets).padStart(3)} ] = ${r.stats[j].toFixed(3)}`;
  });
  const names = new Map(gt.categories.map((c) => [c.id, c.name]));
  const catLines = [...r.perCategory].map(
    ([id, ap]) => ` category ${String(id).padStart(4)} ${(names.get(id) ?? '').padEnd(16)} AP = ${ap.toFixed(3)}`,
  );
  return `${[...lines, '', ' Per-category AP @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]', ...catLines].join('\n')}\n`;
}

export function run(args: readonly string[]): number {
  const { values } = parseFlags(args, { gt: { type: 'string' }, dt: { type: 'string' }, json: { type: 'boolean' } });
  const gtFile = required(values, 'gt');
  const dtFile = required(values, 'dt');
  const gt = orThrow(readJsonAs(cocoGroundTruthSchema, gtFile));
  const dt = orThrow(readJsonAs(cocoDetectionsSchema, dtFile));
  let result: CocoEvalResult;
  try {
    result = cocoEvaluate(gt, dt);
  } catch (err) {
    if (!(err instanceof CocoInputError)) throw err;
    const file = err.input === 'gt' ? gtFile : dtFile;
    throw new InputError(`${file}: ${err.message}`);
  }
  if (values.json) {
    const perCategory = Object.fromEntries([...result.perCategory].map(([id, ap]) => [String(id), ap]));
    process.stdout.write(`${JSON.stringify({ stats: result.stats, per_category: perCategory })}\n`);
  } else {
    process.stdout.write(formatCocoReport(result, gt));
  }
  return 0;
}
