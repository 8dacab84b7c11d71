/**
 * Large per-round payloads in pieces (chunks.ts): a field splits into in-order pieces of at most CHUNK_BYTES and
 * comes back byte for byte; the receiver refuses pieces out of order, past their total or beyond its limits, and a
 * message that flags a field whose pieces did not all arrive; it buffers only what arrived.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isFedmeshError } from '../errors.js';
import { CHUNK_BYTES, ChunkAssembler, messageBytes, serialWriter, splitIntoChunks, writeInOrder, type WireChunk } from './chunks.js';

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return isFedmeshError(e) ? e.code : 'not a FedmeshError';
  }
  return undefined;
};

describe('chunks of large link fields', () => {
  it('a field of 2.5 pieces splits into 3 in order and comes back byte for byte; a small one is not split', () => {
    const bytes = randomBytes(Math.floor(2.5 * CHUNK_BYTES));
    const pieces = splitIntoChunks('t1', 1, bytes);
    expect(pieces.map((p) => [p.offset, p.data.length])).toEqual([[0, CHUNK_BYTES], [CHUNK_BYTES, CHUNK_BYTES], [2 * CHUNK_BYTES, bytes.length - 2 * CHUNK_BYTES]]);
    const a = new ChunkAssembler();
    for (const p of pieces) a.add(p);
    expect(a.bufferedBytes).toBe(bytes.length);
    expect(Buffer.compare(a.take('t1', 1), bytes)).toBe(0);
    expect(a.bufferedBytes).toBe(0);
    expect(splitIntoChunks('t1', 1, randomBytes(CHUNK_BYTES))).toEqual([]);
  });

  it('refuses pieces out of order, a first piece not at 0, a changed total, pieces past the total, and bad fields', () => {
    const pieces = splitIntoChunks('t', 1, randomBytes(3 * 1000), 1000);
    const a = new ChunkAssembler({ maxPieceBytes: 1000 });
    expect(codeOf(() => a.add(pieces[1]!))).toBe('INVALID_ARGUMENT');
    a.add(pieces[0]!);
    expect(codeOf(() => a.add(pieces[2]!))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => a.add({ ...pieces[1]!, total: 5000 }))).toBe('INVALID_ARGUMENT');
    a.add(pieces[1]!);
    // Past the total: a longer last piece (over the piece size, too), or a shorter one.
    expect(codeOf(() => a.add({ ...pieces[2]!, data: Buffer.alloc(1001) }))).toBe('RESOURCE_EXHAUSTED');
    expect(codeOf(() => a.add({ ...pieces[2]!, data: Buffer.alloc(999) }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => a.add({ ...pieces[0]!, taskId: 'u', field: 3 } as unknown as WireChunk))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => a.add({ ...pieces[0]!, taskId: 'u', offset: '-1' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => a.add({ ...pieces[0]!, taskId: 'u', data: Buffer.alloc(0) }))).toBe('INVALID_ARGUMENT');
    // Control: the right third piece completes the field.
    a.add(pieces[2]!);
    expect(a.take('t', 1).length).toBe(3000);
  });

  it('a message that flags a field whose pieces are incomplete, or never came, is refused', () => {
    const pieces = splitIntoChunks('t', 2, randomBytes(2500), 1000);
    const a = new ChunkAssembler({ maxPieceBytes: 1000 });
    a.add(pieces[0]!);
    expect(codeOf(() => a.take('t', 2))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => a.take('other', 1))).toBe('INVALID_ARGUMENT');
  });

  it('limits: a piece too large, a declared total over the field limit, too many fields at once, too many bytes waiting', () => {
    const a = new ChunkAssembler({ maxFieldBytes: 10_000, maxPendingBytes: 5000, maxPendingFields: 2, maxPieceBytes: 1000 });
    expect(codeOf(() => a.add({ taskId: 't', field: 1, offset: 0, data: Buffer.alloc(1001), total: 2000 }))).toBe('RESOURCE_EXHAUSTED');
    expect(codeOf(() => a.add({ taskId: 't', field: 1, offset: 0, data: Buffer.alloc(1000), total: 10_001 }))).toBe('RESOURCE_EXHAUSTED');
    // A declared total is not allocated: 2 fields declaring 10 000 bytes each buffer only the 2 000 bytes sent.
    a.add({ taskId: 'a', field: 1, offset: 0, data: Buffer.alloc(1000), total: 10_000 });
    a.add({ taskId: 'b', field: 1, offset: 0, data: Buffer.alloc(1000), total: 10_000 });
    expect(a.bufferedBytes).toBe(2000);
    expect(codeOf(() => a.add({ taskId: 'c', field: 1, offset: 0, data: Buffer.alloc(100), total: 100 }))).toBe('RESOURCE_EXHAUSTED');
    for (let off = 1000; off < 4000; off += 1000) a.add({ taskId: 'a', field: 1, offset: off, data: Buffer.alloc(1000), total: 10_000 });
    expect(a.bufferedBytes).toBe(5000);
    expect(codeOf(() => a.add({ taskId: 'b', field: 1, offset: 1000, data: Buffer.alloc(1000), total: 10_000 }))).toBe('RESOURCE_EXHAUSTED');
    a.clear();
    expect(a.bufferedBytes).toBe(0);
  });

  it('every piece but the last is whole: 1-byte pieces are refused at once (red team 31, F1: millions of them ran the heap out)', () => {
    const a = new ChunkAssembler({ maxPieceBytes: 1000 });
    expect(codeOf(() => a.add({ taskId: 't', field: 1, offset: 0, data: Buffer.alloc(1), total: 64 << 20 }))).toBe('INVALID_ARGUMENT');
    expect(a.bufferedBytes).toBe(0);
    a.add({ taskId: 't', field: 1, offset: 0, data: Buffer.alloc(1000), total: 2500 });
    expect(codeOf(() => a.add({ taskId: 't', field: 1, offset: 1000, data: Buffer.alloc(999), total: 2500 }))).toBe('INVALID_ARGUMENT');
    // Control: whole pieces and a shorter last one complete the field.
    a.add({ taskId: 't', field: 1, offset: 1000, data: Buffer.alloc(1000), total: 2500 });
    a.add({ taskId: 't', field: 1, offset: 2000, data: Buffer.alloc(500), total: 2500 });
    expect(a.take('t', 1).length).toBe(2500);
  });

  it('writeInOrder waits for drain when the stream is full, and stops when it closes', async () => {
    class Full extends EventEmitter {
      written: unknown[] = [];
      write(m: unknown): boolean {
        this.written.push(m);
        return this.written.length % 2 !== 0;
      }
    }
    const s = new Full();
    const done = writeInOrder(s, [1, 2, 3, 4]);
    // Wrote 1 and 2, then waits (2 filled the buffer).
    await Promise.resolve();
    expect(s.written).toEqual([1, 2]);
    s.emit('drain');
    await new Promise((r) => setImmediate(r));
    expect(s.written).toEqual([1, 2, 3, 4]);
    s.emit('drain');
    expect(await done).toBe(true);
    expect(s.listenerCount('close')).toBe(0);
    const closing = new Full();
    const stopped = writeInOrder(closing, [1, 2, 3]);
    closing.emit('close');
    expect(await stopped).toBe(false);
    expect(closing.written).toEqual([1, 2]);
  });
  it('serialWriter: a cancel sent while a task waits for a drain goes out after the task, not before it (control: writing directly overtakes)', async () => {
    class Full extends EventEmitter {
      written: unknown[] = [];
      write(m: unknown): boolean {
        this.written.push(m);
        return this.written.length !== 2;
      }
    }
    const s = new Full();
    const send = serialWriter(s);
    send(['piece 1', 'piece 2', 'task']);
    send(['cancel']);
    await new Promise((r) => setImmediate(r));
    expect(s.written).toEqual(['piece 1', 'piece 2']);
    s.emit('drain');
    await new Promise((r) => setImmediate(r));
    expect(s.written).toEqual(['piece 1', 'piece 2', 'task', 'cancel']);
    // Control: the old way, the task through writeInOrder and the cancel written directly.
    const d = new Full();
    void writeInOrder(d, ['piece 1', 'piece 2', 'task']);
    d.write('cancel');
    d.emit('drain');
    await new Promise((r) => setImmediate(r));
    expect(d.written.indexOf('cancel')).toBeLessThan(d.written.indexOf('task'));
  });

  describe('serialWriter with a stall policy (a peer that keeps its link but stops reading it)', () => {
    /** A stream that passes `room` messages on, then holds the rest (write callback pending, write false) until drained. */
    class Stuck extends EventEmitter {
      written: unknown[] = [];
      private waiting: (() => void)[] = [];
      constructor(private room: number) {
        super();
      }
      write(m: unknown, done?: () => void): boolean {
        this.written.push(m);
        if (this.room > 0) {
          this.room--;
          done?.();
        } else if (done) this.waiting.push(done);
        return this.room > 0;
      }
      drainFor(room: number): void {
        this.room = room;
        while (this.room > 0 && this.waiting.length > 0) {
          this.room--;
          this.waiting.shift()!();
        }
        this.emit('drain');
      }
    }
    const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
    afterEach(() => vi.useRealTimers());

    it('counts a message by its bytes: byte arrays at any depth, strings in UTF-8 (red team 37, F3)', () => {
      expect(messageBytes({ chunk: { taskId: 't', data: Buffer.alloc(5000) } })).toBeGreaterThanOrEqual(5000);
      expect(messageBytes({ chunk: { taskId: 't', data: Buffer.alloc(5000) } })).toBeLessThan(5100);
      expect(messageBytes({ cancel: { taskId: 'abc' } })).toBeLessThan(100);
      expect(messageBytes({ task: { specJson: '€'.repeat(1000) } })).toBeGreaterThanOrEqual(3000);
      expect(messageBytes({ a: { b: { c: { d: { e: { f: Buffer.alloc(1 << 20) } } } } } })).toBeGreaterThanOrEqual(1 << 20);
    });

    it('past maxQueuedBytes waiting a new batch is refused, not queued, and the link stays: a slow reader under a burst loses tasks, not its link (red team 37, F1); a cancel still goes', async () => {
      const piece = (i: number): { chunk: { data: Buffer; i: number } } => ({ chunk: { data: Buffer.alloc(400), i } });
      const s = new Stuck(1);
      const stalls: string[] = [];
      const send = serialWriter(s, { maxQueuedBytes: 1000, stallMs: 3_600_000, onStall: (r) => stalls.push(r) });
      expect(send([piece(0)])).toBe(true); // passed on; the stream is then full
      await tick();
      expect(send([piece(1)])).toBe(true);
      expect(send([piece(2)])).toBe(true);
      expect(send([piece(3)])).toBe(false); // 3 × ~420 bytes would wait
      expect(send([{ cancel: { taskId: 't' } }])).toBe(true);
      await tick();
      expect(stalls).toEqual([]);
      s.drainFor(100);
      await tick();
      expect(s.written.map((m) => (m as ReturnType<typeof piece>).chunk?.i ?? 'cancel')).toEqual([0, 1, 2, 'cancel']);
      // Room again once the peer read: the next batch is queued.
      expect(send([piece(4)])).toBe(true);
      await tick();
      expect(s.written).toHaveLength(5);
      expect(stalls).toEqual([]);
      // Control: the writer without a policy keeps every batch for a peer that never reads.
      const c = new Stuck(1);
      const plain = serialWriter(c);
      for (let i = 0; i < 50; i++) expect(plain([piece(i)])).toBe(true);
      await tick();
      expect(c.written).toHaveLength(1);
      c.drainFor(100);
      await tick();
      expect(c.written).toHaveLength(50);
    });

    it('the oldest waiting message is granted its time at minBytesPerSecond on top of stallMs: a large piece on a slow link is progress (red team 37, F2)', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const s = new Stuck(1);
      const stalls: string[] = [];
      const send = serialWriter(s, { maxQueuedBytes: 1 << 24, stallMs: 1000, minBytesPerSecond: 1000, onStall: (r) => stalls.push(r) });
      send([{ small: 1 }, { chunk: { data: Buffer.alloc(5000) } }]); // the second waits: 1 s + 5 s at 1000 bytes/s
      await tick();
      vi.advanceTimersByTime(5900);
      await tick();
      expect(stalls).toEqual([]);
      vi.advanceTimersByTime(200);
      await tick();
      expect(stalls).toHaveLength(1);
      expect(stalls[0]).toMatch(/took no message for 60\d\d ms/);
    });

    it('gives the peer up after stallMs without taking a message while some wait; a slow peer that keeps taking is kept', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const slow = new Stuck(1);
      const slowStalls: string[] = [];
      const sendSlow = serialWriter(slow, { maxQueuedBytes: 1 << 20, stallMs: 1000, onStall: (r) => slowStalls.push(r) });
      sendSlow(Array.from({ length: 10 }, (_, i) => ({ chunk: { data: Buffer.alloc(100), i } })));
      await tick();
      for (let i = 0; i < 9; i++) {
        vi.advanceTimersByTime(900); // under the limit each time, 8.1 s in all
        slow.drainFor(1);
        await tick();
      }
      expect(slow.written).toHaveLength(10);
      expect(slowStalls).toEqual([]);

      const stuck = new Stuck(1);
      const stalls: string[] = [];
      const send = serialWriter(stuck, { maxQueuedBytes: 1 << 20, stallMs: 1000, onStall: (r) => stalls.push(r) });
      send([{ task: 1 }, { task: 2 }]);
      await tick();
      vi.advanceTimersByTime(999);
      await tick();
      expect(stalls).toEqual([]);
      vi.advanceTimersByTime(2);
      await tick();
      expect(stalls).toHaveLength(1);
      expect(stalls[0]).toMatch(/took no message for 100\d ms/);
      stuck.drainFor(10);
      await tick();
      expect(stuck.written).toEqual([{ task: 1 }]);
    });

    it('a message the stream accepted (write true) but has not passed on still waits: gRPC returns true and holds it in HTTP/2 buffers', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      /** gRPC's call as measured against a peer that paused: every write returns true, no callback ever runs. */
      class Accepting extends EventEmitter {
        written: unknown[] = [];
        write(m: unknown): boolean {
          this.written.push(m);
          return true;
        }
      }
      const bySize = new Accepting();
      const sizeStalls: string[] = [];
      const send = serialWriter(bySize, { maxQueuedBytes: 1000, stallMs: 3_600_000, onStall: (r) => sizeStalls.push(r) });
      const accepted: boolean[] = [];
      for (let i = 0; i < 3; i++) {
        accepted.push(send([{ chunk: { data: Buffer.alloc(400) } }]));
        await tick();
      }
      expect(accepted).toEqual([true, true, false]);
      expect(bySize.written).toHaveLength(2);
      expect(sizeStalls).toEqual([]);
      const byTime = new Accepting();
      const timeStalls: string[] = [];
      const sendT = serialWriter(byTime, { maxQueuedBytes: 1 << 20, stallMs: 1000, onStall: (r) => timeStalls.push(r) });
      sendT([{ task: 1 }]);
      await tick();
      expect(byTime.written).toHaveLength(1);
      vi.advanceTimersByTime(1001);
      await tick();
      expect(timeStalls).toHaveLength(1);
    });

    it('an idle stream (nothing waiting) is never given up, however long it is quiet', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const s = new Stuck(100);
      const stalls: string[] = [];
      const send = serialWriter(s, { maxQueuedBytes: 1000, stallMs: 1000, onStall: (r) => stalls.push(r) });
      send([{ a: 1 }]);
      await tick();
      vi.advanceTimersByTime(60_000);
      await tick();
      expect(stalls).toEqual([]);
      expect(s.written).toEqual([{ a: 1 }]);
    });
  });
});

