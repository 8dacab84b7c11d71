/**
 * The dashboard's signed-in sessions (dashboard/oidc-login.ts): opaque random ids in a cookie, each naming a
 * principal until a fixed expiry. Held in memory, so the number is capped — and how the cap is kept is a security
 * decision:
 *
 * - A user's last live session is never dropped to make room for someone else's. Dropping the oldest (an earlier
 *   rule) let anyone with an account at the identity provider sign in again and again and sign every real user out.
 * - One principal holds at most `maxPerPrincipal` live sessions; signing in once more ends that principal's own
 *   oldest session. So one account cannot fill the table: it takes `maxSessions / maxPerPrincipal` accounts.
 * - Expired sessions go first. When every session is live, a user who holds none still gets in (red-team F3: refusing
 *   them let ⌈maxSessions / maxPerPrincipal⌉ accounts lock everyone else out for a session's lifetime): the oldest
 *   session of the principal holding the MOST sessions ends, provided that principal holds at least two — a
 *   max-min fair share of the table. Filling it then takes an account per session, and a person with one session
 *   (the usual case) is never signed out by anyone. Only when every live session is some principal's only one is the
 *   sign-in refused (503, RESOURCE_EXHAUSTED saying so): that table is simply full of distinct users.
 *
 * Why not a per-IP cap on sign-ins: a session only exists after the identity provider authenticated someone, so
 * accounts are what an attacker spends, not addresses; and hospital staff reach the dashboard through a few shared
 * NAT or proxy addresses, so a per-IP cap would lock out a whole site. Started sign-ins hold no server memory at
 * all (their state is in a sealed cookie), so there is nothing per pending login to cap.
 */
import { createHash, randomBytes } from 'node:crypto';
import { FedmeshError } from '../common/errors.js';
import type { Principal } from '../coordinator/principal.js';

export interface OidcSessionLimits {
  /** How long a session lasts from sign-in. */
  ttlMs: number;
  /** Most sessions held at once, everyone together. */
  maxSessions: number;
  /** Most live sessions of one principal (by name); beyond, their own oldest ends. */
  maxPerPrincipal: number;
}

interface Session {
  principal: Principal;
  expiresAtMs: number;
}

/** The refusal when every slot holds someone else's live session: nobody is signed out to make room. */
export function sessionsFull(): FedmeshError {
  return new FedmeshError('RESOURCE_EXHAUSTED', 'sign-in is unavailable: the dashboard already keeps as many live sign-ins as it is configured for (login.maxSessions), each the only one of its user, and nobody is signed out of their last session to make room; try again later, or ask the operator to raise the limit', { field: 'maxSessions' });
}

export class OidcSessions {
  /** Keyed by a hash of the cookie value, in the order they were opened (with one ttl, also the order they expire). */
  private readonly sessions = new Map<string, Session>();
  /** Each principal's session keys, oldest first. */
  private readonly byPrincipal = new Map<string, string[]>();
  /** The principals holding n sessions, per n ≥ 1 (n ≤ maxPerPrincipal): finds the one holding the most. */
  private readonly byCount = new Map<number, Set<string>>();

  constructor(private readonly limits: OidcSessionLimits) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Sessions are kept under a hash of the cookie value, so a lookup's timing says nothing about live ids. */
  private static key(sessionId: string): string {
    return createHash('sha256').update(sessionId).digest('base64url');
  }

  /**
   * Whether a session for `principal` can be opened now (after dropping expired ones), without opening it: checked
   * before a sign-in is recorded as used.
   */
  hasRoomFor(principal: Principal, nowMs: number): boolean {
    this.prune(nowMs);
    return this.sessions.size < this.limits.maxSessions || (this.byPrincipal.get(principal.name)?.length ?? 0) > 0 || this.crowded() !== undefined;
  }

  /**
   * Opens a session for `principal`: its own oldest ends if it holds its maximum (or the table is full and it holds
   * any); when the table is full and it holds none, the oldest session of the principal holding the most (at least
   * two) ends. Nobody's last live session ends for someone else.
   * @returns the session id for the cookie
   * @throws FedmeshError RESOURCE_EXHAUSTED when every session is live and each is its principal's only one
   */
  open(principal: Principal, nowMs: number): string {
    this.prune(nowMs);
    const own = this.byPrincipal.get(principal.name) ?? [];
    while (own.length > 0 && (own.length >= this.limits.maxPerPrincipal || this.sessions.size >= this.limits.maxSessions)) this.drop(own[0]!);
    if (this.sessions.size >= this.limits.maxSessions) {
      const victim = this.crowded();
      if (victim === undefined) throw sessionsFull();
      this.drop(this.byPrincipal.get(victim)![0]!);
    }
    const sessionId = randomBytes(32).toString('base64url');
    const key = OidcSessions.key(sessionId);
    this.sessions.set(key, { principal, expiresAtMs: nowMs + this.limits.ttlMs });
    const keys = this.byPrincipal.get(principal.name) ?? [];
    keys.push(key);
    this.byPrincipal.set(principal.name, keys);
    this.counted(principal.name, keys.length - 1, keys.length);
    return sessionId;
  }

  /**
   * The principal holding the most live sessions, when that is at least two (the one that reached that number
   * first): whose oldest session makes room for a user with none. At most maxPerPrincipal steps.
   */
  private crowded(): string | undefined {
    for (let n = this.limits.maxPerPrincipal; n >= 2; n--) {
      const first = this.byCount.get(n)?.values().next();
      if (first && !first.done) return first.value;
    }
    return undefined;
  }

  /** Moves `name` from the principals holding `from` sessions to those holding `to`. */
  private counted(name: string, from: number, to: number): void {
    const was = this.byCount.get(from);
    was?.delete(name);
    if (was?.size === 0) this.byCount.delete(from);
    if (to === 0) return;
    let now = this.byCount.get(to);
    if (!now) this.byCount.set(to, (now = new Set()));
    now.add(name);
  }

  /** The signed-in principal of a session cookie value, or undefined (unknown, ended or expired). */
  principalOf(sessionId: string | undefined, nowMs: number): Principal | undefined {
    if (!sessionId || sessionId.length > 100) return undefined;
    const key = OidcSessions.key(sessionId);
    const s = this.sessions.get(key);
    if (!s) return undefined;
    if (s.expiresAtMs <= nowMs) {
      this.drop(key);
      return undefined;
    }
    return s.principal;
  }

  end(sessionId: string | undefined): void {
    if (sessionId && sessionId.length <= 100) this.drop(OidcSessions.key(sessionId));
  }

  /**
   * Drops expired sessions from the oldest on, stopping at the first live one: with one ttl the table is in expiry
   * order, so this costs only what it removes (a clock stepped back may leave one behind; lookups check expiry).
   */
  private prune(nowMs: number): void {
    for (const [key, s] of this.sessions) {
      if (s.expiresAtMs > nowMs) break;
      this.drop(key);
    }
  }

  private drop(key: string): void {
    const s = this.sessions.get(key);
    if (!s) return;
    this.sessions.delete(key);
    const own = this.byPrincipal.get(s.principal.name);
    if (!own) return;
    const i = own.indexOf(key);
    if (i < 0) return;
    own.splice(i, 1);
    this.counted(s.principal.name, own.length + 1, own.length);
    if (own.length === 0) this.byPrincipal.delete(s.principal.name);
  }
}
