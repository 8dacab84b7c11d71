// Run only by watchdog.test.ts, after blocked.fixture.ts: the run goes on past a killed test process.
import { expect, it } from 'vitest';

it('runs after the blocked file', () => {
  expect(1 + 1).toBe(2);
});
