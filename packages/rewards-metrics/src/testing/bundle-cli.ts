// For the specs that run the CLI as a child process (bench, pq --workers): the CLI bundled into one file in a temp
// folder, as the package's launcher builds it, since those commands re-run their own bundle (timed children, worker
// threads) and cannot run from the TypeScript sources.
import path from 'node:path';
import { buildSync } from 'esbuild';

/** Bundles src/cli.ts into `outfile` (dependencies left external). */
export function bundleCli(outfile: string): void {
  buildSync({
    entryPoints: [path.join(__dirname, '..', 'cli.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    packages: 'external',
    logLevel: 'error',
  });
}
