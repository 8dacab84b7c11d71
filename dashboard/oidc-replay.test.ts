/**
 * The sign-in replay guard (dashboard/oidc-replay.ts), per principal (red-team F3, attack b): one account signing in
 * in a loop fills only its own share, so nobody else's sign-in is refused because of it.
 */
import { describe, expect, it } from 'vitest';
import { FinishedFlows } from './oidc-replay.js';

const TTL = 600_000;

/** Mallory signs in `loops` times within one flow lifetime, then Alice once: was Alice refused? */
function aliceRefused(guard: { checkRoom(p: string, now: number): void; add(id: string, p: string, exp: number): void }, loops: number): boolean {
  for (let i = 0; i < loops; i++) {
    try {
      guard.checkRoom('mallory', i);
      guard.add(`m${i}`, 'mallory', i + TTL);
    } catch {
      // mallory refused: fine
    }
  }
  try {
    guard.checkRoom('alice', loops);
    return false;
  } catch {
    return true;
  }
}

/** The rule before the fix, as a stand-in: one global cap on remembered flows, whoever signed in. */
class GlobalCap {
  private readonly ids = new Set<string>();
  constructor(private readonly max: number) {}
  checkRoom(): void {
    if (this.ids.size >= this.max) throw new Error('full');
  }
  add(id: string): void {
    this.ids.add(id);
  }
}

describe('sign-in replay guards, capped per principal', () => {
  it('one looping account is refused at its own cap, with when to retry; another user is not (loop of 1000, cap 64)', () => {
    const g = new FinishedFlows(64);
    expect(aliceRefused(g, 1000)).toBe(false);
    expect(g.size).toBe(64);
    expect(() => g.checkRoom('mallory', 1000)).toThrow(expect.objectContaining({ code: 'RESOURCE_EXHAUSTED', field: 'maxSignInsPerUser', details: { retryAfterSec: 599 } }));
  });

  it('negative control: a global cap of the same total (64) is filled by the loop and refuses Alice', () => {
    expect(aliceRefused(new GlobalCap(64), 1000)).toBe(true);
  });

  it('remembers each flow until its expiry, then forgets it and frees the slot', () => {
    const g = new FinishedFlows(2);
    g.checkRoom('alice', 0);
    g.add('f1', 'alice', TTL);
    g.checkRoom('alice', 1);
    g.add('f2', 'alice', TTL + 1);
    expect(g.has('f1') && g.has('f2')).toBe(true);
    expect(() => g.checkRoom('alice', TTL - 1)).toThrow(/signed in 2 times/);
    // At f1's expiry alice has room again and f1 is gone; f2 is still remembered.
    g.checkRoom('alice', TTL);
    expect(g.has('f1')).toBe(false);
    expect(g.has('f2')).toBe(true);
    expect(g.size).toBe(1);
  });
});
