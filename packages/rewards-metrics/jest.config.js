// Jest for @reward-tune/rewards-metrics: the workspace preset, tests colocated as src/**/*.spec.ts.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'rewards-metrics',
  rootDir: __dirname,
};
