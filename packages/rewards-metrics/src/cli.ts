// The `rewards-metrics` command-line tool. Each command lives in src/cli/<command>.ts and exports `run(args)`.
// Exit codes: 0 done, 1 failure while working, 2 bad usage or bad input (one line naming the file and field).
// Command modules are required only when their command runs, so that e.g. `cider` does not pay for the other commands'
// modules nor for the image decoders (the start-up counts against whole-run timings of small inputs).
/* eslint-disable @typescript-eslint/no-require-imports -- the commands load lazily (see above) */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { InputError } from './cli/io';

type Run = (args: readonly string[]) => number | void | Promise<number | void>;

interface Command {
  readonly summary: string;
  readonly load: () => { run: Run };
}

const commands: Record<string, Command> = {
  'coco-map': {
    summary: '--gt instances.json --dt results.json [--json]   COCO box mAP (pycocotools semantics)',
    load: () => require('./cli/coco-map') as typeof import('./cli/coco-map'),
  },
  pq: {
    summary:
      '--gt-json --gt-dir --pred-json --pred-dir [--workers N] [--json]   Panoptic Quality (panopticapi semantics)',
    load: () => require('./cli/pq') as typeof import('./cli/pq'),
  },
  cider: {
    summary: '--refs refs.json --cands cands.json [--json]   CIDEr-D and BLEU-1..4 (coco-caption semantics)',
    load: () => require('./cli/cider') as typeof import('./cli/cider'),
  },
  colorfulness: {
    summary: 'image.png [--json]   colourfulness M3 (Hasler & Süsstrunk 2003)',
    load: () => require('./cli/colorfulness') as typeof import('./cli/colorfulness'),
  },
  'detection-reward': {
    summary: "--input sample.json [--json]   the paper's detection reward per sample",
    load: () => require('./cli/detection-reward') as typeof import('./cli/detection-reward'),
  },
  bench: {
    summary:
      '[--json] [--images N] [--pq-images M] [--out DIR] [--no-reference]   time the CLI on generated COCO-val-sized inputs',
    load: () => require('./cli/bench') as typeof import('./cli/bench'),
  },
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
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`usage: rewards-metrics ${command} ${entry.summary}\n`);
    return 0;
  }
  try {
    return (await entry.load().run(rest)) ?? 0;
  } catch (err) {
    if (err instanceof InputError) {
      process.stderr.write(`rewards-metrics ${command}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

// A worker thread of a command that scores in parallel runs this same file (the bundle) with its task in workerData.
const task = isMainThread ? undefined : (workerData as { rewardsMetricsWorker?: string } | undefined);
if (task?.rewardsMetricsWorker === 'pq') {
  const pq = require('./cli/pq') as typeof import('./cli/pq');
  pq.workerMain(task as import('./cli/pq').PqWorkerData, (r) => parentPort?.postMessage(r));
} else {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
