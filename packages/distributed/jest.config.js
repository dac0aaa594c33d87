// Jest for @reward-tune/distributed: the workspace preset, tests colocated as src/**/*.spec.ts (no Redis needed).
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'distributed',
  rootDir: __dirname,
};
