// Jest for @reward-tune/task-caption: the workspace preset, tests colocated as src/**/*.spec.ts.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'task-caption',
  rootDir: __dirname,
};
