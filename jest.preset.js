// Shared Jest settings for every package: TypeScript through SWC (fast, no type checking: the
// `typecheck` target does that), workspace packages resolved to their sources, Node environment.
const path = require('node:path');

const packagesDir = path.join(__dirname, 'packages');

module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  moduleNameMapper: {
    '^@reward-tune/([a-z-]+)$': `${packagesDir}/$1/src/index.ts`,
  },
  // Model tests run real (tiny) networks on the wasm/cpu backends: give them room on a 2-core machine.
  testTimeout: 120000,
};
