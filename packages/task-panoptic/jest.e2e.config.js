// End-to-end runs of @reward-tune/task-panoptic, src/**/*.e2e.ts: the demo on the mu preset (about 15 s), kept out of
// the unit suite (`npm test`) and run by `npm run e2e` (the `e2e` target) and by CI.
module.exports = {
  ...require('./jest.config.js'),
  displayName: 'task-panoptic:e2e',
  testMatch: ['<rootDir>/src/**/*.e2e.ts'],
};
