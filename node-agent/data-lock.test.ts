import { describe, expect, it } from 'vitest';
import { ReadWriteLock } from './data-lock.js';

/** A promise and its resolver, to hold a lock open until the test says so. */
function gate(): { open: () => void; wait: Promise<void> } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { open, wait };
}

describe('ReadWriteLock', () => {
  it('runs readers together, a writer alone, and readers that arrive after a waiting writer after it', async () => {
    const lock = new ReadWriteLock();
    const order: string[] = [];
    const g1 = gate();
    const r1 = lock.read(async () => {
      order.push('r1 start');
      await g1.wait;
      order.push('r1 end');
    });
    const r2 = lock.read(async () => {
      order.push('r2');
    });
    await r2;
    expect(lock.activeReaders).toBe(1);
    const w = lock.write(async () => {
      order.push('w');
    });
    const r3 = lock.read(async () => {
      order.push('r3');
    });
    // The writer waits for r1; r3 waits for the writer (no starvation of a reload by later tasks).
    await Promise.resolve();
    expect(order).toEqual(['r1 start', 'r2']);
    g1.open();
    await Promise.all([r1, w, r3]);
    expect(order).toEqual(['r1 start', 'r2', 'r1 end', 'w', 'r3']);
  });

  it('releases the lock when the holder throws', async () => {
    const lock = new ReadWriteLock();
    await expect(lock.write(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    await expect(lock.read(async () => 7)).resolves.toBe(7);
  });
});
