/** The session table's cap (dashboard/oidc-sessions.ts): a live session is never dropped for someone else's sign-in. */
import { describe, expect, it } from 'vitest';
import type { Principal } from '../coordinator/principal.js';
import { OidcSessions } from './oidc-sessions.js';

const who = (name: string): Principal => ({ name, isAdmin: false, authenticatedBy: 'oidc' });
const TTL = 60_000;

/** The two operations the attack below uses; the real table and a stand-in with the old rule both have them. */
interface Table {
  open(p: Principal, nowMs: number): string;
  principalOf(id: string, nowMs: number): Principal | undefined;
}

/** The rule before the fix, as a stand-in: at the cap, the oldest session goes, whoever's it is. */
class EvictOldest implements Table {
  private readonly m = new Map<string, Principal>();
  private n = 0;
  constructor(private readonly max: number) {}
  open(p: Principal): string {
    while (this.m.size >= this.max) this.m.delete(this.m.keys().next().value!);
    const id = `s${this.n++}`;
    this.m.set(id, p);
    return id;
  }
  principalOf(id: string): Principal | undefined {
    return this.m.get(id);
  }
}

/** Alice signs in, then one attacker account signs in 50 times: is Alice still signed in? */
function aliceSurvives(t: Table): boolean {
  const alice = t.open(who('alice'), 0);
  for (let i = 0; i < 50; i++) {
    try {
      t.open(who('mallory'), i + 1);
    } catch {
      // a refused sign-in is fine: the point is what happens to Alice
    }
  }
  return t.principalOf(alice, 100)?.name === 'alice';
}

describe('OIDC session table at its cap (maxSessions 3, 2 per user)', () => {
  const limits = { ttlMs: TTL, maxSessions: 3, maxPerPrincipal: 2 };

  it('one account signing in again and again ends only its own oldest sessions, never another user’s', () => {
    expect(aliceSurvives(new OidcSessions(limits))).toBe(true);
    const t = new OidcSessions(limits);
    const first = t.open(who('mallory'), 0);
    const second = t.open(who('mallory'), 1);
    const third = t.open(who('mallory'), 2);
    expect(t.principalOf(first, 3)).toBeUndefined();
    expect(t.principalOf(second, 3)?.name).toBe('mallory');
    expect(t.principalOf(third, 3)?.name).toBe('mallory');
    expect(t.size).toBe(2);
  });

  it('negative control: the same attack signs Alice out under the old rule (drop the oldest at the cap)', () => {
    expect(aliceSurvives(new EvictOldest(3))).toBe(false);
  });

  it('when every session is live and belongs to others, a new user is refused (RESOURCE_EXHAUSTED, the limit named); nobody is signed out', () => {
    const t = new OidcSessions(limits);
    const ids = ['alice', 'bob', 'carol'].map((n, i) => t.open(who(n), i));
    expect(t.hasRoomFor(who('dave'), 10)).toBe(false);
    expect(() => t.open(who('dave'), 10)).toThrow(expect.objectContaining({ code: 'RESOURCE_EXHAUSTED', message: expect.stringMatching(/login\.maxSessions.*nobody is signed out/) }));
    expect(ids.map((id) => t.principalOf(id, 10)?.name)).toEqual(['alice', 'bob', 'carol']);
    // A user who already holds a session may sign in again: their own oldest makes room.
    expect(t.hasRoomFor(who('bob'), 10)).toBe(true);
    const bob2 = t.open(who('bob'), 10);
    expect(t.principalOf(ids[1]!, 11)).toBeUndefined();
    expect(t.principalOf(bob2, 11)?.name).toBe('bob');
    expect(t.principalOf(ids[0]!, 11)?.name).toBe('alice');
  });

  it('expired sessions go first: at the expiry of the oldest a new user gets in', () => {
    const t = new OidcSessions(limits);
    const alice = t.open(who('alice'), 0);
    t.open(who('bob'), 1);
    t.open(who('carol'), 2);
    expect(() => t.open(who('dave'), TTL - 1)).toThrow(/sign-in is unavailable/);
    const dave = t.open(who('dave'), TTL);
    expect(t.principalOf(dave, TTL)?.name).toBe('dave');
    expect(t.principalOf(alice, TTL)).toBeUndefined();
    expect(t.size).toBe(3);
  });

  it('ends a session on logout; ignores unknown and over-long ids', () => {
    const t = new OidcSessions(limits);
    const id = t.open(who('alice'), 0);
    t.end('x'.repeat(101));
    t.end(undefined);
    expect(t.principalOf(id, 1)?.name).toBe('alice');
    t.end(id);
    expect(t.principalOf(id, 1)).toBeUndefined();
    expect(t.size).toBe(0);
    expect(t.principalOf('x'.repeat(101), 1)).toBeUndefined();
  });
});
