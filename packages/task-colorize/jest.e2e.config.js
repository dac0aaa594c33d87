// End-to-end and long runs of @reward-tune/task-colorize, src/**/*.e2e.ts: the colour scenes' statistics over
// thousands of scenes, kept out of the unit suite (`npm test`) and run by `npm run e2e` (the `e2e` target) and by CI.
module.exports = {
  ...require('./jest.config.js'),
  displayName: 'task-colorize:e2e',
  testMatch: ['<rootDir>/src/**/*.e2e.ts'],
};
