/**
 * Timing harness for `rewards-metrics bench`: runs this package's own CLI as a child process on generated inputs and
 * measures wall time and the child's peak resident memory (VmHWM of /proc/self/status, else
 * `process.resourceUsage().maxRSS`, written at exit by a preload script), so the figures are those a user of the CLI
 * gets.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface CliTiming {
  readonly seconds: number;
  readonly peakRssMiB: number;
  readonly stdout: string;
}

// The child's own peak: VmHWM of /proc/self/status where there is one. getrusage's maxRSS is no good on Linux for
// a child of a big process: exec keeps the high-water mark of the parent's memory it was forked from.
const PRELOAD = `process.on('exit', () => {
  const fs = require('node:fs');
  let kib = process.resourceUsage().maxRSS;
  try {
    const m = /^VmHWM:\\s*(\\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) kib = Number(m[1]);
  } catch {}
  fs.writeFileSync(process.env.RM_BENCH_RSS_FILE, String(kib));
});
`;

/** Runs `node <cli> ...args` (the bundled CLI next to this bundle by default) and times it. */
export function timeCli(args: readonly string[], cli = path.join(__dirname, 'cli.cjs')): CliTiming {
  const dir = mkdtempSync(path.join(tmpdir(), 'rm-bench-'));
  const preload = path.join(dir, 'rss.js');
  const rssFile = path.join(dir, 'rss.txt');
  writeFileSync(preload, PRELOAD);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['--require', preload, cli, ...args], {
    env: { ...process.env, RM_BENCH_RSS_FILE: rssFile },
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`bench: '${args.join(' ')}' exited ${r.status}: ${r.stderr}`);
  const maxRssKiB = Number(readFileSync(rssFile, 'utf8'));
  return { seconds, peakRssMiB: maxRssKiB / 1024, stdout: r.stdout };
}
