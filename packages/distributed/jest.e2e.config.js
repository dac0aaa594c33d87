// End-to-end runs of @reward-tune/distributed, src/**/*.e2e.ts: learner and actor processes on a real Redis
// (REDIS_URL, which .ci/run sets after starting redis-server), kept out of the unit suite and run by `npm run e2e`.
module.exports = {
  ...require('./jest.config.js'),
  displayName: 'distributed:e2e',
  testMatch: ['<rootDir>/src/**/*.e2e.ts'],
  // One Redis, child processes: the files run one after another.
  maxWorkers: 1,
};
