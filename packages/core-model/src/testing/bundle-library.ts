// For the specs whose worker threads load the package's library (data-parallel ranks): src/index.ts bundled into one
// CommonJS file, as the build writes dist/index.cjs, since a worker thread cannot load the TypeScript sources. It goes
// under the package's node_modules/.cache, from where the bundle's npm imports resolve to the workspace's packages.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';

const packageDir = path.join(__dirname, '..', '..');

/** Bundles src/index.ts (npm dependencies left external) into `<package>/node_modules/.cache/<name>/index.cjs`. */
export function bundleLibrary(name: string): string {
  const dir = path.join(packageDir, 'node_modules', '.cache', name);
  mkdirSync(dir, { recursive: true });
  const outfile = path.join(dir, 'index.cjs');
  buildSync({
    entryPoints: [path.join(packageDir, 'src', 'index.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    logLevel: 'error',
  });
  return outfile;
}
