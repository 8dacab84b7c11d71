/**
 * Found in stop 37 and fixed here: the agent did not throttle its own registration updates, so a SIGHUP loop whose
 * reloads each changed the catalogue could pass the coordinator's 1 200 registrations a minute and lose the link.
 * Updates are now at most one per MIN_UPDATE_INTERVAL_MS, the ones asked for meanwhile sharing one trailing send.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AgentLink, MIN_UPDATE_INTERVAL_MS } from './link.js';

function linkWithStream(): { link: AgentLink; sent: unknown[] } {
  const sent: unknown[] = [];
  let version = 0;
  const link = new AgentLink({
    coordinator: '127.0.0.1:1',
    insecure: true,
    registration: () => ({ name: 'a', domain: 'a', version: '1', policy: { minCellSize: 10, allowModes: ['none'], allowKinds: [] }, products: [{ name: `p${++version}`, columns: [], privacyUnit: '', description: '', metadata: {} }] }),
    onTask: () => Promise.reject(new Error('no tasks here')),
    log: () => undefined,
  } as never);
  // The open stream, as connect() leaves it (no network in this test).
  (link as unknown as { call: { write: (m: unknown) => void; end: () => void; cancel: () => void } }).call = { write: (m) => sent.push(m), end: () => undefined, cancel: () => undefined };
  return { link, sent };
}

afterEach(() => vi.useRealTimers());

describe('registration updates on one link', () => {
  it('1 000 updates in one burst send one at once and one trailing update of the latest catalogue', () => {
    vi.useFakeTimers();
    const { link, sent } = linkWithStream();
    for (let i = 0; i < 1000; i++) void link.updateRegistration();
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(MIN_UPDATE_INTERVAL_MS);
    expect(sent).toHaveLength(2);
    // A minute of updates asked for every millisecond: at most 60 000 / 100 + 1 sent, under the coordinator's 1 200.
    for (let t = 0; t < 60_000; t++) {
      void link.updateRegistration();
      vi.advanceTimersByTime(1);
    }
    expect(sent.length).toBeLessThanOrEqual(2 + 60_000 / MIN_UPDATE_INTERVAL_MS + 1);
    expect(sent.length).toBeGreaterThan(500);
    link.stop();
  });

  it('control: updates further apart than the interval are each sent at once', () => {
    vi.useFakeTimers();
    const { link, sent } = linkWithStream();
    for (let i = 0; i < 5; i++) {
      void link.updateRegistration();
      expect(sent).toHaveLength(i + 1);
      vi.advanceTimersByTime(MIN_UPDATE_INTERVAL_MS + 1);
    }
    link.stop();
  });
});
