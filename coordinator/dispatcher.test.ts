/**
 * The dispatcher's three answers to sending a task: sent (the reply resolves it), absent (not connected) and busy
 * (the agent's link refused it because too many task bytes already wait for that agent: red team 37, F1). A busy link
 * fails that task only, at once, with a message that says why; it is not a disconnection.
 */
import { describe, expect, it } from 'vitest';
import type { AgentTask } from '../common/agent-protocol.js';
import type { AgentRegistry } from './agent-registry.js';
import { Dispatcher } from './dispatcher.js';

function fakeRegistry(answer: 'sent' | 'absent' | 'busy'): { registry: AgentRegistry; sent: AgentTask[] } {
  const sent: AgentTask[] = [];
  const registry = {
    onDisconnect: () => undefined,
    cancel: () => undefined,
    send: (_name: string, task: AgentTask) => {
      if (answer === 'sent') sent.push(task);
      return answer;
    },
  } as unknown as AgentRegistry;
  return { registry, sent };
}

const task = (): Omit<AgentTask, 'taskId'> => ({ jobId: 'j', kind: 'aggregate', specJson: '{}', deadlineMs: Date.now() + 60_000, round: 0, researcher: 'r', payload: new Uint8Array() }) as unknown as Omit<AgentTask, 'taskId'>;

describe('Dispatcher.dispatch', () => {
  it('a busy link fails the task at once, naming the cause; an absent agent is "not connected"; a sent task waits for its reply', async () => {
    const busy = await new Dispatcher(fakeRegistry('busy').registry).dispatch('a1', task());
    expect(busy).toMatchObject({ ok: false, agent: 'a1', error: { code: 'AGENT_UNAVAILABLE' } });
    expect(busy.ok === false && busy.error.message).toMatch(/a1's link is busy: too many task bytes already wait/);
    const absent = await new Dispatcher(fakeRegistry('absent').registry).dispatch('a1', task());
    expect(absent.ok === false && absent.error.message).toMatch(/a1 is not connected/);
    const { registry, sent } = fakeRegistry('sent');
    const d = new Dispatcher(registry);
    const outcome = d.dispatch('a1', task());
    expect(sent).toHaveLength(1);
    expect(d.deliver('a1', { taskId: sent[0]!.taskId, ok: true, arrow: new Uint8Array([1]), meta: {} } as never)).toBe(true);
    expect(await outcome).toMatchObject({ ok: true, agent: 'a1' });
  });
});
