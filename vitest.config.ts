import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file in its own process: native stores, directory locks and
    // SIGKILL crash tests stay isolated.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
