import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['algorithms/**/*.test.ts', 'common/**/*.test.ts', 'jobs/**/*.test.ts', 'coordinator/**/*.test.ts', 'node-agent/**/*.test.ts', 'client/**/*.test.ts', 'dashboard/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/*.stat.test.ts', 'node_modules/**', 'dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Ends a test process whose event loop is blocked (beyond testTimeout), naming the test: test/helpers/watchdog.ts.
    setupFiles: ['test/helpers/watchdog.ts', 'test/helpers/file-teardown.ts'],
    // Ends the run, naming the file, when vitest waits on a file past every limit (a worker that never exits).
    reporters: ['default', './test/helpers/stuck-run-reporter.mjs'],
  },
});
