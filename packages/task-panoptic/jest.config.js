// Jest for @reward-tune/task-panoptic: the workspace preset, tests colocated as src/**/*.spec.ts.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'task-panoptic',
  rootDir: __dirname,
};
