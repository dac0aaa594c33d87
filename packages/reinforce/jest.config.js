// Jest for @reward-tune/reinforce: the workspace preset, tests colocated as src/**/*.spec.ts.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'reinforce',
  rootDir: __dirname,
};
