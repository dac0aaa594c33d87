#!/usr/bin/env node
// Builds the package in the current directory: dist/index.cjs (the library) and, when src/cli.ts exists,
// dist/cli.cjs (the package's command-line tool), each one bundled file, plus type declarations.
//
// Workspace packages (@reward-tune/*) are bundled in from their sources; every npm dependency stays external so
// that one tfjs (and one backend registry) is shared by the whole process, and so that the optional native
// packages (@tensorflow/tfjs-node, @tensorflow/tfjs-node-gpu) are only required when present.
//
// Usage: node ../../tools/build.mjs [--no-types]
import { build } from 'esbuild';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkgDir = process.cwd();

/** esbuild plugin: bundle our own packages from source, keep every other bare import external. */
const externalNpm = {
  name: 'external-npm',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      const m = /^@reward-tune\/([a-z-]+)$/.exec(args.path);
      if (m) return { path: path.join(root, 'packages', m[1], 'src', 'index.ts') };
      return { path: args.path, external: true };
    });
  },
};

export async function buildPackage(dir, { types = true } = {}) {
  const entries = [
    ['index', 'src/index.ts'],
    ['cli', 'src/cli.ts'],
  ].filter(([, f]) => existsSync(path.join(dir, f)));
  for (const [name, file] of entries) {
    await build({
      entryPoints: [path.join(dir, file)],
      outfile: path.join(dir, 'dist', `${name}.cjs`),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      sourcemap: true,
      logLevel: 'warning',
      plugins: [externalNpm],
      banner: name === 'cli' ? { js: '#!/usr/bin/env node' } : undefined,
    });
  }
  if (types) {
    execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-p', path.join(dir, 'tsconfig.lib.json')], {
      stdio: 'inherit',
    });
  }
}

/** Newest modification time of any source file this package's bundle may include. */
export function newestSourceMtime() {
  let newest = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const p of readdirSync(path.join(root, 'packages'))) {
    const src = path.join(root, 'packages', p, 'src');
    if (existsSync(src)) walk(src);
  }
  return newest;
}

/** Rebuilds dist/cli.cjs of the package in `dir` when it is missing or older than any workspace source; its path. */
export async function ensureCli(dir) {
  const cli = path.join(dir, 'dist', 'cli.cjs');
  if (!existsSync(cli) || statSync(cli).mtimeMs < newestSourceMtime()) {
    await buildPackage(dir, { types: false });
  }
  return cli;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildPackage(pkgDir, { types: !process.argv.includes('--no-types') });
}
