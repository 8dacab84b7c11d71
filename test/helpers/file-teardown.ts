/**
 * Test support: cleanups for what a helper makes once per test file (a shared certificate folder, say), run after
 * the file's last test by the `afterAll` below (this module is in vitest's setupFiles). vitest may end a test
 * process without an 'exit' event, so a process hook would not do.
 */
import { afterAll } from 'vitest';

const cleanups: (() => Promise<void> | void)[] = [];

/** Runs `fn` after the current test file's last test. */
export function atFileEnd(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

afterAll(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});
