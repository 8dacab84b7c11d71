import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AgentTask } from '../../common/agent-protocol.js';
import { createIdentityKeyPair } from '../../common/crypto/index.js';
import { signIdentityAssertion, specSha256Hex } from '../../common/identity/index.js';
import { CoordinatorKeyPin, PINNED_COORDINATOR_KEY_FILE } from './coordinator-key.js';
import { guardLinkTasks } from './task-identity.js';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
const fresh = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), 'fedmesh-pin-'));
  dirs.push(d);
  return d;
};

const task: AgentTask = { taskId: 't1', jobId: 'j1', kind: 'aggregate', specJson: '{}', deadlineMs: Date.now() + 10_000, round: 0, researcher: 'alice', payload: new Uint8Array() };
const assertion = (key: Uint8Array): string =>
  signIdentityAssertion({ v: 1, researcher: 'alice', authenticatedBy: 'certificate', attributes: { roles: [], purposes: [], projects: [] }, purpose: 'HRESCH', jobId: 'j1', round: 0, specSha256: specSha256Hex('{}'), agent: 'a1', issuedAtMs: Date.now(), expiresAtMs: Date.now() + 10_000 }, key);

describe('the coordinator key an agent trusts', () => {
  it('is pinned on first sight (0600) and survives a restart; a different published key does not replace it', async () => {
    const dir = await fresh();
    const events: string[] = [];
    const first = createIdentityKeyPair();
    const pin = new CoordinatorKeyPin(dir, undefined, (e) => events.push(e));
    expect(pin.current()).toBeUndefined();
    pin.published(first.publicKey);
    expect((await stat(join(dir, PINNED_COORDINATOR_KEY_FILE))).mode & 0o777).toBe(0o600);
    const again = new CoordinatorKeyPin(dir, undefined, (e) => events.push(e));
    expect(again.current()).toEqual(first.publicKey);
    again.published(createIdentityKeyPair().publicKey);
    expect(again.current()).toEqual(first.publicKey);
    expect(events).toEqual(['coordinator-key-pinned', 'coordinator-key-mismatch']);
  });

  it('link tasks: refused without a known key, accepted with the right one, refused with another', async () => {
    const key = createIdentityKeyPair();
    const run = (): Promise<never> => Promise.resolve({ ok: true, taskId: 't1', arrow: new Uint8Array(), meta: {} } as never);
    const none = guardLinkTasks(new CoordinatorKeyPin(await fresh(), undefined, () => undefined), 'a1', () => undefined, run);
    expect(await none({ ...task, identityAssertion: assertion(key.privateKey) })).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED', message: expect.stringMatching(/knows no coordinator key/) } });
    const right = guardLinkTasks(new CoordinatorKeyPin(await fresh(), key.publicKey, () => undefined), 'a1', () => undefined, run);
    expect(await right({ ...task, identityAssertion: assertion(key.privateKey) })).toMatchObject({ ok: true });
    expect(await right(task)).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
    const other = guardLinkTasks(new CoordinatorKeyPin(await fresh(), createIdentityKeyPair().publicKey, () => undefined), 'a1', () => undefined, run);
    expect(await other({ ...task, identityAssertion: assertion(key.privateKey) })).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED', message: expect.stringMatching(/bad signature/) } });
  });
});
