/**
 * The dashboard's signed-in sessions (dashboard/oidc-login.ts): opaque random ids in a cookie, each naming a
 * principal until a fixed expiry. Held in memory, so the number is capped — and how the cap is kept is a security
 * decision:
 *
 * - A live session is never dropped to make room for someone else's. Dropping the oldest (the earlier rule) let
 *   anyone with an account at the identity provider sign in again and again and sign every real user out.
 * - One principal holds at most `maxPerPrincipal` live sessions; signing in once more ends that principal's own
 *   oldest session. So one account cannot fill the table: it takes `maxSessions / maxPerPrincipal` accounts.
 * - Expired sessions go first. When every session is live and belongs to others, the sign-in is refused (503,
 *   RESOURCE_EXHAUSTED with a message that says so) and nobody already signed in is affected.
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
  return new FedmeshError('RESOURCE_EXHAUSTED', 'sign-in is unavailable: the dashboard already keeps as many live sign-ins as it is configured for (login.maxSessions), and nobody is signed out to make room; try again later, or ask the operator to raise the limit', { field: 'maxSessions' });
}

export class OidcSessions {
  /** Keyed by a hash of the cookie value, in the order they were opened (with one ttl, also the order they expire). */
  private readonly sessions = new Map<string, Session>();
  /** Each principal's session keys, oldest first. */
  private readonly byPrincipal = new Map<string, string[]>();

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
    return this.sessions.size < this.limits.maxSessions || (this.byPrincipal.get(principal.name)?.length ?? 0) > 0;
  }

  /**
   * Opens a session for `principal`: its own oldest ends if it holds its maximum (or the table is full and it holds
   * any); another principal's live session never does.
   * @returns the session id for the cookie
   * @throws FedmeshError RESOURCE_EXHAUSTED when every session is live and none is the principal's
   */
  open(principal: Principal, nowMs: number): string {
    this.prune(nowMs);
    const own = this.byPrincipal.get(principal.name) ?? [];
    while (own.length > 0 && (own.length >= this.limits.maxPerPrincipal || this.sessions.size >= this.limits.maxSessions)) this.drop(own[0]!);
    if (this.sessions.size >= this.limits.maxSessions) throw sessionsFull();
    const sessionId = randomBytes(32).toString('base64url');
    const key = OidcSessions.key(sessionId);
    this.sessions.set(key, { principal, expiresAtMs: nowMs + this.limits.ttlMs });
    this.byPrincipal.set(principal.name, [...(this.byPrincipal.get(principal.name) ?? []), key]);
    return sessionId;
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
    if (i >= 0) own.splice(i, 1);
    if (own.length === 0) this.byPrincipal.delete(s.principal.name);
  }
}
