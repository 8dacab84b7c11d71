/** The agent's task slots (red team 41, B F4): at most N computing, M waiting in order, the rest refused at once. */
import { describe, expect, it } from 'vitest';
import type { AgentTask, AgentTaskReply } from '../../common/agent-protocol.js';
import { TaskSlots } from './task-slots.js';

const task = (i: number): AgentTask => ({ taskId: `t${i}`, jobId: `j${i}`, kind: 'aggregate', specJson: '{}', deadlineMs: 0, round: 0, researcher: 'r', payload: new Uint8Array() });
const ok = (id: string): AgentTaskReply => ({ ok: true, taskId: id, arrow: new Uint8Array(), meta: {} });

describe('task slots', () => {
  it('runs at most 2 at once, queues 3 in arrival order, refuses the 6th with RESOURCE_EXHAUSTED', async () => {
    const slots = new TaskSlots(2, 3);
    const gates: (() => void)[] = [];
    const started: string[] = [];
    let peak = 0;
    const serve = (id: string) => () =>
      new Promise<AgentTaskReply>((resolve) => {
        started.push(id);
        peak = Math.max(peak, slots.load.running);
        gates.push(() => resolve(ok(id)));
      });
    const replies = [1, 2, 3, 4, 5, 6].map((i) => slots.run(task(i), serve(`t${i}`)));
    const sixth = await replies[5]!;
    expect(sixth).toMatchObject({ ok: false, error: { code: 'RESOURCE_EXHAUSTED' } });
    expect(!sixth.ok && sixth.error.message).toMatch(/agent busy: 2 tasks computing and 3 waiting/);
    expect(slots.load).toEqual({ running: 2, queued: 3 });
    // Finish them one at a time: the next waiting one starts, in order, never more than 2 at once.
    for (let done = 0; done < 5; done++) {
      while (gates.length === 0) await Promise.resolve();
      gates.shift()!();
      await replies[done];
    }
    expect(started).toEqual(['t1', 't2', 't3', 't4', 't5']);
    expect(peak).toBeLessThanOrEqual(2);
    expect(slots.load).toEqual({ running: 0, queued: 0 });
  });

  it('a failing task frees its slot; control: with room nothing waits', async () => {
    const slots = new TaskSlots(1, 0);
    await expect(slots.run(task(1), () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(slots.load).toEqual({ running: 0, queued: 0 });
    expect(await slots.run(task(2), () => Promise.resolve(ok('t2')))).toMatchObject({ ok: true });
  });

  it('a waiting task cancelled is dropped and answered CANCELLED without computing (red team 42); a running one is not its business', async () => {
    const slots = new TaskSlots(1, 4);
    let release: () => void = () => undefined;
    const started: string[] = [];
    const first = slots.run(task(1), () => new Promise<AgentTaskReply>((resolve) => {
      started.push('t1');
      release = () => resolve(ok('t1'));
    }));
    const second = slots.run(task(2), async () => {
      started.push('t2');
      return ok('t2');
    });
    const third = slots.run(task(3), async () => {
      started.push('t3');
      return ok('t3');
    });
    expect(slots.cancel('t2')).toBe(true);
    expect(await second).toMatchObject({ ok: false, taskId: 't2', error: { code: 'CANCELLED' } });
    expect(slots.cancel('t1')).toBe(false); // running: the task's own cancellation scope handles it
    expect(slots.cancel('nope')).toBe(false);
    release();
    await first;
    expect(await third).toMatchObject({ ok: true });
    expect(started).toEqual(['t1', 't3']);
    expect(slots.load).toEqual({ running: 0, queued: 0 });
  });

  it('refuses bounds out of range, naming the option', () => {
    expect(() => new TaskSlots(0)).toThrow(/maxConcurrentTasks/);
    expect(() => new TaskSlots(2, -1)).toThrow(/maxQueuedTasks/);
  });
});
