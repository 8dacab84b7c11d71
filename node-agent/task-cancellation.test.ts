import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskCancellation } from './task-cancellation.js';

/** CPU time (µs, every thread of this process, DuckDB's included) used over the next `ms` milliseconds. */
async function cpuOver(ms: number): Promise<number> {
  const a = process.cpuUsage();
  await new Promise((r) => setTimeout(r, ms));
  const d = process.cpuUsage(a);
  return d.user + d.system;
}

/**
 * Waits (bounded) until a 100 ms window uses under a quarter of `busyPer100ms`, the rate measured while the query ran
 * in the same test: relative, so a machine loaded by other processes (a thread then gets a fraction of a core) does
 * not read as idle or as busy by an absolute threshold. Returns how long that took, or undefined.
 */
async function msUntilIdle(limitMs: number, busyPer100ms: number): Promise<number | undefined> {
  const t0 = Date.now();
  while (Date.now() - t0 < limitMs) if ((await cpuOver(100)) < busyPer100ms / 4) return Date.now() - t0;
  return undefined;
}

// Seconds of pure execution (no planning to speak of), which DuckDB checks for interrupts as it goes.
const LONG_QUERY = 'SELECT count(*) FROM range(4000000000) t(i) WHERE hash(i) % 7 = 3';

describe('TaskCancellation', () => {
  let instance: DuckDBInstance;
  let conn: DuckDBConnection;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    conn = await instance.connect();
  });
  afterAll(() => {
    conn.closeSync();
    instance.closeSync();
  });

  it('interrupts a running statement and a task that would go on to the next one: the CPU is idle within 1 s', async () => {
    const tasks = new TaskCancellation();
    const scope = tasks.begin('t1', 0);
    let statements = 0;
    // A task that issues statement after statement (as cohort jobs do): one interrupt alone would only stop the first.
    const work = scope.using(conn, async () => {
      for (let i = 0; i < 5; i++) {
        statements++;
        await conn.run(LONG_QUERY).catch(() => undefined);
      }
    });
    const busy = await cpuOver(300);
    expect(busy).toBeGreaterThan(30_000); // it is really working (at least a tenth of a core, even on a loaded machine)
    const cancelledAt = Date.now();
    expect(tasks.cancel('t1')).toBe(true);
    await work;
    scope.end();
    const idle = await msUntilIdle(5_000, busy / 3);
    expect(idle, 'the CPU never went idle after cancel').toBeDefined();
    expect(Date.now() - cancelledAt).toBeLessThan(1_000 + 200);
    expect(tasks.size).toBe(0);
    expect(statements).toBeLessThan(5 + 1);
  }, 60_000);

  it('negative control: without cancel the same work keeps a core busy', async () => {
    const run = conn.run(LONG_QUERY);
    const busy = await cpuOver(300);
    expect(busy).toBeGreaterThan(30_000);
    // The idleness check the test above passes within 1 s never passes here: the query keeps its share of the CPU.
    expect(await msUntilIdle(1_000, busy / 3)).toBeUndefined();
    conn.interrupt();
    await run.catch(() => undefined);
  }, 60_000);

  it('refuses to start work for a task already cancelled', async () => {
    const tasks = new TaskCancellation();
    const scope = tasks.begin('t2', 0);
    tasks.cancel('t2');
    await expect(scope.using(conn, async () => 1)).rejects.toThrow(/cancelled/);
    expect(tasks.cancel('t2')).toBe(false);
  });
});
