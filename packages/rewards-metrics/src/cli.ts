// The `rewards-metrics` command-line tool. Each command lives in src/cli/<command>.ts and exports `run(args)`.
// Exit codes: 0 done, 1 failure while working, 2 bad usage or bad input (one line naming the file and field).
import { InputError } from './cli/io';
import * as cocoMap from './cli/coco-map';
import * as pq from './cli/pq';
import * as cider from './cli/cider';
import * as colorfulness from './cli/colorfulness';
import * as detectionReward from './cli/detection-reward';
import * as bench from './cli/bench';

type Run = (args: readonly string[]) => number | void | Promise<number | void>;

const commands: Record<string, { summary: string; run: Run }> = {
  'coco-map': { summary: '--gt instances.json --dt results.json [--json]   COCO box mAP (pycocotools semantics)', run: cocoMap.run },
  pq: { summary: '--gt-json --gt-dir --pred-json --pred-dir [--json]   Panoptic Quality (panopticapi semantics)', run: pq.run },
  cider: { summary: '--refs refs.json --cands cands.json [--json]   CIDEr-D and BLEU-1..4 (coco-caption semantics)', run: cider.run },
  colorfulness: { summary: 'image.png [--json]   colourfulness M3 (Hasler & Süsstrunk 2003)', run: colorfulness.run },
  'detection-reward': { summary: '--input sample.json [--json]   the paper\'s detection reward per sample', run: detectionReward.run },
  bench: { summary: '[--json]   time the metrics on generated COCO-val-sized inputs', run: bench.run },
};

function usage(): string {
  const w = Math.max(...Object.keys(commands).map((c) => c.length));
  return `usage: rewards-metrics <command> [options]\n\n${Object.entries(commands)
    .map(([c, { summary }]) => `  ${c.padEnd(w)}  ${summary}`)
    .join('\n')}\n`;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h') {
    process.stdout.write(usage());
    return command === undefined ? 2 : 0;
  }
  const entry = commands[command];
  if (!entry) {
    process.stderr.write(`rewards-metrics: unknown command '${command}'\n${usage()}`);
    return 2;
  }
  try {
    return (await entry.run(rest)) ?? 0;
  } catch (err) {
    if (err instanceof InputError) {
      process.stderr.write(`rewards-metrics ${command}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
