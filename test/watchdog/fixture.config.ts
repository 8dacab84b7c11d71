import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The watchdog test's own vitest run: the blocking fixture only, with the same watchdog setup as the suite.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('.', import.meta.url)),
    // FEDMESH_FIXTURE_PAUSE: the pause fixture alone (the process is stopped and resumed from outside).
    // FEDMESH_FIXTURE_HANG: the hanging fixture alone (a file whose result never comes: the stuck-run reporter's case).
    include: process.env.FEDMESH_FIXTURE_PAUSE ? ['paused.fixture.ts'] : process.env.FEDMESH_FIXTURE_HANG ? ['hang.fixture.ts'] : ['blocked.fixture.ts', 'after.fixture.ts'],
    reporters: ['default', fileURLToPath(new URL('../helpers/stuck-run-reporter.mjs', import.meta.url))],
    // One file at a time, the blocked one first (alphabetical would put it second): the run must go on past it.
    maxWorkers: 1,
    sequence: { shuffle: false },
    testTimeout: 2_000,
    pool: 'forks',
    setupFiles: [fileURLToPath(new URL('../helpers/watchdog.ts', import.meta.url))],
  },
});
