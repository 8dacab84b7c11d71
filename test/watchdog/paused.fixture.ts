// Run only by watchdog.test.ts: writes its pid, then waits (event loop turning) until the test says go on. The
// test stops this whole process (SIGSTOP) for longer than the stall limit and resumes it, as a VM pause would.
import { existsSync, writeFileSync } from 'node:fs';
import { it } from 'vitest';

it('survives a pause of the whole process', async () => {
  const dir = process.env.FEDMESH_FIXTURE_PAUSE ?? '';
  writeFileSync(`${dir}/pid`, String(process.pid));
  while (!existsSync(`${dir}/go`)) await new Promise((r) => setTimeout(r, 50));
}, 60_000);
