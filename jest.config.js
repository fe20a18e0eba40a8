module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': '@swc/jest' },
  testMatch: ['<rootDir>/test/**/*.test.ts', '<rootDir>/runbooks/*/test/**/*.test.ts'],
  modulePathIgnorePatterns: ['<rootDir>/.data', '<rootDir>/dist'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 120000,
  // Integration suites share one lab and one Temporal server; run files one at a time.
  maxWorkers: 1,
  forceExit: true,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
