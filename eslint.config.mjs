// ESLint for the whole workspace (`npm run lint:eslint`): typescript-eslint's recommended rules and the rules this
// code base already assumes. Formatting is prettier's job (.prettierrc.json): eslint-config-prettier switches off
// every stylistic rule that would argue with it. Import circles are madge's job (`npm run lint:cycles`, .madgerc):
// unlike eslint-plugin-import-x's no-cycle it follows type-only imports too, and a circle through types is still a
// circle in the design.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Test code: Jest specs, end-to-end runs and the test-only helpers under src/testing/. */
const TESTS = ['**/*.spec.ts', '**/*.e2e.ts', '**/src/testing/**'];

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/',
      '**/dist/',
      '.nx/',
      '.jest-results/',
      'coverage/',
      'runs/',
      'tmp/',
      '**/checkpoints/',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.{js,mjs,cjs,ts}'],
    languageOptions: { globals: { ...globals.node } },
  },
  {
    // Jest configs and the preset are CommonJS files run by Node.
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.ts'],
    rules: {
      // dataSync()/arraySync() block the event loop and fail on webgpu in Node: read tensors with `await t.data()`
      // (core-model's readTensor). Tests may read synchronously; the few deliberate reads elsewhere carry an
      // `eslint-disable-next-line no-restricted-syntax` with their reason.
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.property.name='dataSync']",
          message: 'dataSync() blocks and fails on webgpu in Node: use `await t.data()` (readTensor).',
        },
        {
          selector: "CallExpression[callee.property.name='arraySync']",
          message: 'arraySync() blocks and fails on webgpu in Node: use `await t.array()` or readTensor.',
        },
      ],

      // Relaxed from the recommended set, each for a reason the code base has in bulk:
      // `x!` states an invariant the type system cannot see (an index just checked, a map just filled); the
      // alternative, a throw per access, adds noise without adding safety.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Arguments kept for an interface's shape (`_step`, `_cfg`) and destructuring that drops keys
      // (`const { a: _a, ...rest } = o`) are deliberate when named with a leading underscore.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    files: TESTS,
    rules: {
      'no-restricted-syntax': 'off',
      // Tests feed deliberately malformed values (a bad config, a broken JSON file) past the types they test.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  prettier,
  {
    // eslint-config-prettier turns max-len off because prettier wraps code at printWidth; it cannot wrap comments,
    // so they are held to the same 120 columns here (strings, template literals, regexes and URLs may run over).
    rules: {
      'max-len': [
        'error',
        {
          code: 120,
          ignoreStrings: true,
          ignoreTemplateLiterals: true,
          ignoreRegExpLiterals: true,
          ignoreUrls: true,
          ignorePattern: '^\\s*(import|export) ',
        },
      ],
    },
  },
);
