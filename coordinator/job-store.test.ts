import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobStore } from './job-store.js';
import type { JobRecord } from './job-record.js';

const record = (id: string, caller?: JobRecord['caller']): JobRecord => ({
  id, kind: 'glm', researcher: 'alice', spec: { kind: 'glm' } as JobRecord['spec'], state: 'running', createdAtMs: 1, finishedAtMs: undefined,
  agentsAsked: ['a1'], agentsAnswered: [], agentsMissing: [], result: undefined, error: undefined, ...(caller ? { caller } : {}),
});

describe('the job store keeps who submitted a job (red team 43: a resumed job asserted a made-up identity)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-jobstore-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the caller, how authenticated and its attributes, across a reopen; a job stored without one comes back without (control)', async () => {
    const caller = { name: 'alice', isAdmin: false, authenticatedBy: 'oidc' as const, attributes: { organisation: 'uni', roles: ['analyst'], purposes: ['HRESCH'], projects: ['p-1'] } };
    let store = await JobStore.open(dir, { registryKinds: ['glm'] });
    await store.insert(record('with', caller));
    await store.insert(record('without'));
    store.close();
    store = await JobStore.open(dir, { registryKinds: ['glm'] });
    const running = await store.runningRegistryJobs();
    expect(running.find((r) => r.id === 'with')!.caller).toEqual(caller);
    expect('caller' in running.find((r) => r.id === 'without')!).toBe(false);
    store.close();
  });
});
