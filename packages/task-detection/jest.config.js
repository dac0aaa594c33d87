// Jest for @reward-tune/task-detection: the workspace preset, tests colocated as src/**/*.spec.ts.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'task-detection',
  rootDir: __dirname,
};
