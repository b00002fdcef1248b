// ESM + TypeScript through SWC (fast; type-checking is `tsc --noEmit`, run first by `npm test`).
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  // Ends what a file's code started process-wide (the fold pool's threads) with the file.
  setupFilesAfterEnv: ['<rootDir>/test/support/after-each-file.ts'],
  testTimeout: 60_000,
  // Two cores: integration suites share one PostgreSQL; two workers keep it busy without thrashing.
  maxWorkers: 2,
};
