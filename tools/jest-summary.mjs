#!/usr/bin/env node
// Reads every Jest JSON report in a folder (written by `jest --json --outputFile`) and prints one plain line,
// "N passed, N failed", the form CI recognises. Exits 1 when any test failed, any suite failed to run, or no
// report is there at all (a run that tested nothing is not a green run).
//
// Usage: node tools/jest-summary.mjs <folder>
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2] ?? '.jest-results';
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
let passed = 0;
let failed = 0;
let brokenSuites = 0;
for (const f of files) {
  const r = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  brokenSuites += r.numRuntimeErrorTestSuites ?? 0;
}
// A suite that crashed before running its tests counts as one failure, so it can never go unseen.
failed += brokenSuites;
console.log(`${passed} passed, ${failed} failed`);
process.exit(files.length === 0 || failed > 0 ? 1 : 0);
