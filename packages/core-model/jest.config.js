// Jest for @reward-tune/core-model: the workspace preset, tests colocated as src/**/*.spec.ts.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'core-model',
  rootDir: __dirname,
};
