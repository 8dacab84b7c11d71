import { afterEach, describe, expect, it } from 'vitest';
import type { JobRecord } from '../coordinator/job-record.js';
import type { Principal } from '../coordinator/principal.js';
import { FedmeshError } from '../common/errors.js';
import { fakeBackend } from '../test/helpers/dashboard-backend.js';
import { createDashboardApp } from './app.js';
import { startDashboardServer, type RunningDashboard } from './server.js';
import { DEFAULT_MAX_STREAMS_PER_CALLER, StreamSlots } from '../coordinator/stream-slots.js';

const running = (id: string, researcher: string): JobRecord => ({
  id, kind: 'aggregate', researcher, state: 'running', createdAtMs: 1, finishedAtMs: undefined, agentsAsked: ['a1'], agentsAnswered: [], agentsMissing: [], error: undefined, result: undefined,
  spec: { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' } } as unknown as JobRecord['spec'],
});

/** A backend whose jobs never finish: every watcher stays until its stream ends; `closed` resolves as each goes. */
function neverEnding(jobs: JobRecord[]) {
  const base = fakeBackend([], jobs);
  let watching = 0;
  const waiters: (() => void)[] = [];
  const backend = {
    ...base,
    async watchJob(caller: Principal, id: string) {
      await base.getJob(caller, id);
      watching++;
      return () => {
        watching--;
        waiters.shift()?.();
      };
    },
  };
  return { backend, watching: () => watching, nextClose: () => new Promise<void>((r) => waiters.push(r)) };
}

describe('StreamSlots', () => {
  const alice: Principal = { name: 'alice', isAdmin: false, authenticatedBy: 'certificate' };
  const aliceOidc: Principal = { name: 'alice', isAdmin: false, authenticatedBy: 'oidc' };

  it('allows the cap per caller, refuses one more with RESOURCE_EXHAUSTED, and frees a slot on release (once)', () => {
    const s = new StreamSlots(2);
    const r1 = s.acquire(alice);
    s.acquire(alice);
    expect(() => s.acquire(alice)).toThrow(expect.objectContaining({ code: 'RESOURCE_EXHAUSTED' }));
    // Another caller, or the same name authenticated another way, has its own slots.
    expect(() => s.acquire(aliceOidc)).not.toThrow();
    r1();
    r1();
    expect(s.held(alice)).toBe(1);
    s.acquire(alice);
    expect(() => s.acquire(alice)).toThrow(FedmeshError);
  });

  it('refuses a bad cap naming the option', () => {
    expect(() => new StreamSlots(0)).toThrow(/options.maxStreamsPerCaller must be an integer/);
    expect(() => new StreamSlots(1.5)).toThrow(/options.maxStreamsPerCaller/);
  });
});

describe('live job streams are capped per researcher (over a real socket)', () => {
  let dash: RunningDashboard | undefined;
  const aborts: AbortController[] = [];
  afterEach(async () => {
    for (const a of aborts.splice(0)) a.abort();
    await dash?.close();
    dash = undefined;
  });

  it(`holds ${DEFAULT_MAX_STREAMS_PER_CALLER} streams, answers 429 to the next, and frees a slot when a browser disconnects`, async () => {
    const nb = neverEnding([running('job-run', 'insecure-dev')]);
    dash = await startDashboardServer({ backend: nb.backend, listen: '127.0.0.1:0', insecure: true });
    const open = async (): Promise<Response> => {
      const a = new AbortController();
      aborts.push(a);
      return fetch(new URL('/jobs/job-run/events', dash!.url), { signal: a.signal });
    };
    for (let i = 0; i < DEFAULT_MAX_STREAMS_PER_CALLER; i++) {
      const res = await open();
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
    }
    expect(nb.watching()).toBe(DEFAULT_MAX_STREAMS_PER_CALLER);
    const refused = await open();
    expect(refused.status).toBe(429);
    expect(await refused.text()).toContain('at most 4 live job streams');
    expect(nb.watching()).toBe(DEFAULT_MAX_STREAMS_PER_CALLER);

    // The browser goes away (tab closed): the server sees the socket close, unsubscribes and frees the slot.
    const closed = nb.nextClose();
    aborts[0]!.abort();
    await closed;
    expect(nb.watching()).toBe(DEFAULT_MAX_STREAMS_PER_CALLER - 1);
    expect((await open()).status).toBe(200);
    expect((await open()).status).toBe(429);
  });

  it('an unknown job is 404 and takes no slot', async () => {
    const nb = neverEnding([running('job-run', 'insecure-dev')]);
    dash = await startDashboardServer({ backend: nb.backend, listen: '127.0.0.1:0', insecure: true });
    for (let i = 0; i < DEFAULT_MAX_STREAMS_PER_CALLER + 2; i++) expect((await fetch(new URL('/jobs/nope/events', dash.url))).status).toBe(404);
    const a = new AbortController();
    aborts.push(a);
    expect((await fetch(new URL('/jobs/job-run/events', dash.url), { signal: a.signal })).status).toBe(200);
  });
});

describe('the cap is per researcher (in-process)', () => {
  it("alice at her cap does not stop bob's stream", async () => {
    const nb = neverEnding([running('a-job', 'alice'), running('b-job', 'bob')]);
    const users: Record<string, Principal> = { alice: { name: 'alice', isAdmin: false, authenticatedBy: 'certificate' }, bob: { name: 'bob', isAdmin: false, authenticatedBy: 'certificate' } };
    const app = createDashboardApp({ backend: nb.backend, maxStreamsPerCaller: 2, identify: async (c) => users[c.req.header('x-test-user') ?? '']! });
    const get = (path: string, user: string) => app.request(path, { headers: { 'x-test-user': user } });
    const held = [await get('/jobs/a-job/events', 'alice'), await get('/jobs/a-job/events', 'alice')];
    expect(held.map((r) => r.status)).toEqual([200, 200]);
    expect((await get('/jobs/a-job/events', 'alice')).status).toBe(429);
    const bob = await get('/jobs/b-job/events', 'bob');
    expect(bob.status).toBe(200);
    // Cancelling the body is how the node adapter reports a closed connection: the slot comes back.
    const closed = nb.nextClose();
    await held[0]!.body!.cancel();
    await closed;
    expect((await get('/jobs/a-job/events', 'alice')).status).toBe(200);
    for (const r of [held[1]!, bob]) await r.body!.cancel();
  });
});
