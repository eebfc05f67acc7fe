import { defineConfig } from 'vitest/config';

// Interop tests start real servers and real clients: generous timeouts, and files run in
// forks so a test that kills a gateway process cannot take the runner down with it.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    reporters: ['default'],
  },
});
