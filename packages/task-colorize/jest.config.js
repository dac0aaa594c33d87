// Jest for @reward-tune/task-colorize: the workspace preset, tests colocated as src/**/*.spec.ts.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'task-colorize',
  rootDir: __dirname,
};
