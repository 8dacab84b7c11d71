// Run only by watchdog.test.ts, after blocked.fixture.ts: the run goes on past a killed test process.
// FEDMESH_FIXTURE_AFTER_TESTS=n: n more tests of about 1 s each, so the run keeps moving for n seconds after the kill.
import { expect, it } from 'vitest';

it('runs after the blocked file', () => {
  expect(1 + 1).toBe(2);
});

for (let i = 0; i < Number(process.env.FEDMESH_FIXTURE_AFTER_TESTS ?? 0); i++) {
  it(`keeps the run moving (${i + 1})`, async () => {
    await new Promise((r) => setTimeout(r, 1_000));
    expect(i).toBeGreaterThanOrEqual(0);
  });
}
