// Run only by watchdog.test.ts: a file whose result never comes, its event loop idle (so its own watchdog, which
// watches for a blocked loop, stays quiet): the stuck-run reporter in vitest's main process must end the run.
import { it } from 'vitest';

it('never settles', () => new Promise<void>(() => {}), 600_000);
