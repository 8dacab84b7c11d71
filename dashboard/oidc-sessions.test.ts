/**
 * The session table's cap (dashboard/oidc-sessions.ts): a user's last live session is never dropped for someone else's
 * sign-in, and a full table does not lock out a user who holds none while some principal holds several (F3).
 */
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

  it('when every live session is its user\'s only one, a new user is refused (RESOURCE_EXHAUSTED, the limit named); nobody is signed out', () => {
    const t = new OidcSessions(limits);
    const ids = ['alice', 'bob', 'carol'].map((n, i) => t.open(who(n), i));
    expect(t.hasRoomFor(who('dave'), 10)).toBe(false);
    expect(() => t.open(who('dave'), 10)).toThrow(expect.objectContaining({ code: 'RESOURCE_EXHAUSTED', message: expect.stringMatching(/login\.maxSessions.*nobody is signed out of their last session/) }));
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

/** The rule before red-team F3, as a stand-in: at the cap, a user who holds no session is refused. */
class RefuseNewcomers implements Table {
  private readonly m = new Map<string, Principal>();
  private n = 0;
  constructor(private readonly max: number, private readonly perUser: number) {}
  open(p: Principal): string {
    const own = [...this.m].filter(([, q]) => q.name === p.name).map(([id]) => id);
    while (own.length > 0 && (own.length >= this.perUser || this.m.size >= this.max)) this.m.delete(own.shift()!);
    if (this.m.size >= this.max) throw new Error('full');
    const id = `s${this.n++}`;
    this.m.set(id, p);
    return id;
  }
  principalOf(id: string): Principal | undefined {
    return this.m.get(id);
  }
}

/**
 * Attack (a) of F3 at small scale: ⌈maxSessions / maxPerPrincipal⌉ accounts fill the table with their maximum each,
 * then Alice (no session) signs in, then the accounts go on signing in (and fresh ones join). Alice's outcome.
 */
function aliceAfterFlood(t: Table, max: number, perUser: number): 'refused' | 'signed out' | 'signed in' {
  const accounts = Math.ceil(max / perUser);
  let clock = 0;
  for (let a = 0; a < accounts; a++) for (let i = 0; i < perUser; i++) t.open(who(`mallory-${a}`), clock++);
  let alice: string;
  try {
    alice = t.open(who('alice'), clock++);
  } catch {
    return 'refused';
  }
  for (let round = 0; round < 3; round++) {
    for (let a = 0; a < accounts + 2; a++) {
      try {
        t.open(who(`mallory-${a}`), clock++);
      } catch {
        // refused sign-ins of the attacker do not matter here
      }
    }
  }
  return t.principalOf(alice, clock)?.name === 'alice' ? 'signed in' : 'signed out';
}

describe('OIDC session table full of a few accounts\' sessions (red-team F3, attack a: maxSessions 8, 2 per user)', () => {
  const limits = { ttlMs: TTL, maxSessions: 8, maxPerPrincipal: 2 };

  it('a user with no session gets in, and stays signed in while the accounts go on signing in', () => {
    expect(aliceAfterFlood(new OidcSessions(limits), 8, 2)).toBe('signed in');
  });

  it('negative control: under the old rule (refuse a newcomer when full) the same flood locks Alice out', () => {
    expect(aliceAfterFlood(new RefuseNewcomers(8, 2), 8, 2)).toBe('refused');
  });

  it('makes room from the principal holding the most sessions (its oldest), never from a user\'s only session', () => {
    const t = new OidcSessions({ ttlMs: TTL, maxSessions: 5, maxPerPrincipal: 4 });
    const alice = t.open(who('alice'), 0);
    const bob = [t.open(who('bob'), 1), t.open(who('bob'), 2)];
    const mallory = [t.open(who('mallory'), 3), t.open(who('mallory'), 4)];
    // bob and mallory both hold two: bob reached two first, so his oldest goes for dave.
    expect(t.hasRoomFor(who('dave'), 5)).toBe(true);
    const dave = t.open(who('dave'), 5);
    expect(t.principalOf(bob[0]!, 6)).toBeUndefined();
    expect([alice, bob[1]!, ...mallory, dave].map((id) => t.principalOf(id, 6)?.name)).toEqual(['alice', 'bob', 'mallory', 'mallory', 'dave']);
    // Now mallory alone holds two: erin takes her oldest.
    const erin = t.open(who('erin'), 7);
    expect(t.principalOf(mallory[0]!, 8)).toBeUndefined();
    expect([alice, bob[1]!, mallory[1]!, dave, erin].map((id) => t.principalOf(id, 8)?.name)).toEqual(['alice', 'bob', 'mallory', 'dave', 'erin']);
    // Everyone holds one: the next new user is refused and nobody is signed out.
    expect(t.hasRoomFor(who('frank'), 9)).toBe(false);
    expect(() => t.open(who('frank'), 9)).toThrow(expect.objectContaining({ code: 'RESOURCE_EXHAUSTED' }));
    expect(t.size).toBe(5);
    // Counts follow logout and expiry: once bob signs out, frank gets the free slot without signing anyone out.
    t.end(bob[1]!);
    const frank = t.open(who('frank'), 10);
    expect([alice, mallory[1]!, dave, erin, frank].map((id) => t.principalOf(id, 11)?.name)).toEqual(['alice', 'mallory', 'dave', 'erin', 'frank']);
  });
});

describe('the F3 flood at the default limits (10 000 sessions, 16 per user)', () => {
  it('625 accounts filling the table, then signing in on: 9 375 of 10 000 new users get in and stay; the rest only once every session is its user\'s only one', () => {
    const t = new OidcSessions({ ttlMs: 8 * 3_600_000, maxSessions: 10_000, maxPerPrincipal: 16 });
    let clock = 0;
    for (let a = 0; a < 625; a++) for (let i = 0; i < 16; i++) t.open(who(`m${a}`), clock++);
    const ids: string[] = [];
    let refused = 0;
    for (let u = 0; u < 10_000; u++) {
      try {
        ids.push(t.open(who(`u${u}`), clock++));
      } catch {
        refused++;
      }
      try {
        t.open(who(`m${u % 625}`), clock++);
      } catch {
        // an attacker account refused: not the point
      }
    }
    // Every slot an account held beyond its one went to a new user: 10 000 − 625 of them.
    expect(ids.length).toBe(10_000 - 625);
    expect(refused).toBe(625);
    expect(ids.every((id) => t.principalOf(id, clock)?.name.startsWith('u'))).toBe(true);
    expect(t.size).toBe(10_000);
  });
});
