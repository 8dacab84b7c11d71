import { describe, expect, it } from 'vitest';
import { CoalescedRun } from './coalesced-run.js';

/** A job whose runs finish only when the test says so. */
function gatedJob(): { job: () => Promise<number>; finish: () => void; started: () => number } {
  let runs = 0;
  const gates: (() => void)[] = [];
  return {
    job: () => new Promise<number>((resolve) => {
      const n = ++runs;
      gates.push(() => resolve(n));
    }),
    finish: () => gates.shift()?.(),
    started: () => runs,
  };
}

describe('CoalescedRun', () => {
  it('runs once more after a run in progress, and shares that queued run between callers', async () => {
    const g = gatedJob();
    const r = new CoalescedRun(g.job, -1);
    const first = r.run();
    const second = r.run();
    const third = r.run();
    expect(second).toBe(third);
    expect(g.started()).toBe(1);
    g.finish();
    expect(await first).toBe(1);
    await new Promise((res) => setImmediate(res));
    expect(g.started()).toBe(2);
    g.finish();
    expect(await second).toBe(2);
    expect(r.busy).toBe(false);
  });

  it('runs the queued run even when the run in progress failed', async () => {
    let calls = 0;
    const r = new CoalescedRun(async () => {
      calls++;
      if (calls === 1) throw new Error('first fails');
      return calls;
    }, -1);
    const first = r.run();
    const queued = r.run();
    await expect(first).rejects.toThrow('first fails');
    expect(await queued).toBe(2);
    await r.settled();
  });
});
