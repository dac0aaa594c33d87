#!/usr/bin/env node
// Reads every Jest JSON report in a folder (written by `jest --json --outputFile`) and prints one plain line,
// "N passed, N failed", the form CI recognises. Reports named <project>.e2e.json belong to the end-to-end runs
// (`npm run e2e`), every other one to the unit suite (`npm test`).
//
// Each `--step name=status` gives the exit status of one CI step. A step that failed without a failing test to show
// for it (a type error, a crash before Jest wrote its report, a lint error) counts as one failure, so the line never
// reads "0 failed" when CI fails. Steps named `unit` and `e2e` own the reports above, and each must have written at
// least one (a run that tested nothing is not a green run); any other step (`lint`) owns none.
// Exits 1 when anything failed; the names of failed steps go to stderr, the line alone to stdout.
//
// Usage: node tools/jest-summary.mjs <folder> [--step unit=0 --step e2e=0 --step lint=1]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { step: { type: 'string', multiple: true, default: [] } },
});
const dir = positionals[0] ?? '.jest-results';

/** The step a report belongs to, from its file name. */
const stepOf = (file) => (file.endsWith('.e2e.json') ? 'e2e' : 'unit');

const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
const byStep = new Map();
let passed = 0;
let failed = 0;
for (const f of files) {
  const r = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
  // A suite that crashed before running its tests counts as one failure, so it can never go unseen.
  const fails = r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
  passed += r.numPassedTests;
  failed += fails;
  const s = byStep.get(stepOf(f)) ?? { reports: 0, failed: 0 };
  byStep.set(stepOf(f), { reports: s.reports + 1, failed: s.failed + fails });
}

const steps = values.step.map((s) => {
  const m = /^([\w-]+)=(\d+)$/.exec(s);
  if (!m) {
    console.error(`--step: expected name=status, got '${s}'`);
    process.exit(2);
  }
  return { name: m[1], status: Number(m[2]) };
});
// Without --step, the folder is all there is: it must hold at least one report.
if (steps.length === 0 && files.length === 0) {
  console.error(`no Jest report in ${dir}`);
  failed += 1;
}
for (const { name, status } of steps) {
  const own = byStep.get(name);
  const ownsReports = name === 'unit' || name === 'e2e';
  if (ownsReports && own === undefined) {
    console.error(`${name}: no Jest report in ${dir} (exit status ${status})`);
    failed += 1;
  } else if (status !== 0 && !(own?.failed > 0)) {
    console.error(`${name}: failed (exit status ${status}) without a failing test: counted as one failure`);
    failed += 1;
  } else if (status !== 0) {
    console.error(`${name}: ${own.failed} failed`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
