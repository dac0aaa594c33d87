#!/usr/bin/env node
// Runs the CLI of the package in the current directory (`nx run <project>:<target>` lands here through the
// package's npm script, and `npm start` directly, so that the CLI's exit code 2 reaches the shell): rebuilds
// dist/cli.cjs when any workspace source is newer, then runs it with the target name as its sub-command and passes
// every further argument through. The CLI runs from the workspace root, so relative paths given to `nx run` (--data,
// --out) mean the same wherever nx was started; its environment raises glibc's malloc thresholds (cliEnv, below).
//
// Usage (from a package directory): node ../../tools/run-cli.mjs <sub-command> [args...]
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCli } from './build.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const pkgDir = process.cwd();
if (!existsSync(path.join(pkgDir, 'src', 'cli.ts'))) {
  console.error(`${path.basename(pkgDir)} has no command-line tool (src/cli.ts)`);
  process.exit(2);
}
const cli = await ensureCli(pkgDir);
const r = spawnSync(process.execPath, [cli, ...process.argv.slice(2)], { stdio: 'inherit', cwd: root, env: cliEnv() });
process.exit(r.status ?? 1);

/**
 * The CLI's environment: this one, plus glibc's malloc thresholds raised when GLIBC_TUNABLES is not set. With
 * glibc's defaults, blocks above a threshold (128 kB at first) are mapped and unmapped one by one and the heap's
 * free top is given back, so the training loop keeps faulting fresh pages in: a 30-update detection tune took ~1 M
 * minor page faults, ~0.25 M with these thresholds (docs/runtime.md "malloc thresholds"). Other C libraries ignore
 * the variable.
 */
function cliEnv() {
  if (process.env.GLIBC_TUNABLES !== undefined) return process.env;
  return {
    ...process.env,
    GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456',
  };
}
