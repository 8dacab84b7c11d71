// Run only by watchdog.test.ts (its own vitest config): a test that blocks its event loop for good.
import { it } from 'vitest';

it('blocks the event loop', () => {
  const end = Number(process.env.FEDMESH_FIXTURE_BLOCK_S ?? 1e9) * 1_000 + Date.now();
  while (Date.now() < end) {
    // spin: no timer on this loop can fire, vitest's testTimeout included
  }
});
