// End-to-end runs of @reward-tune/task-detection, src/**/*.e2e.ts: whole demos of a minute or so each, kept out of
// the unit suite (`npm test`) and run by `npm run e2e` (the `e2e` target) and by CI.
module.exports = {
  ...require('./jest.config.js'),
  displayName: 'task-detection:e2e',
  testMatch: ['<rootDir>/src/**/*.e2e.ts'],
};
