import { defineConfig } from 'vitest/config';

// Slow statistical tests of the privacy samplers and mechanisms (`npm run test:stat`); CI runs them too.
export default defineConfig({
  test: {
    include: ['**/*.stat.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 300_000,
    pool: 'forks',
    setupFiles: ['test/helpers/watchdog.ts', 'test/helpers/file-teardown.ts'],
    reporters: ['default', './test/helpers/stuck-run-reporter.mjs'],
  },
});
