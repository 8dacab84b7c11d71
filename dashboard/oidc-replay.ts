/**
 * The replay guard of the dashboard's sign-in (dashboard/oidc-login.ts): the flow ids of sign-ins that succeeded,
 * each until its flow's expiry, so the same callback (flow cookie + code) cannot open a second session.
 *
 * Kept per principal, with a cap per principal (red-team F3, attack b). A single global cap (the earlier rule: 100 000
 * entries) let ONE account with a live session at the identity provider (authorize answers at once) loop
 * start → authorize → callback about 170 times a second and fill it, refusing every user's sign-in for the flow's
 * lifetime, while its sessions only rotated within its own maximum. Now each principal holds at most
 * `maxPerPrincipal` live guards — at most that many sign-ins per flow lifetime, a rate limit per person — and a
 * principal at its cap is refused alone (429), never anyone else. Memory is then bounded by the principals the
 * identity provider vouches for as researchers or administrators (only a sign-in that passed every check is recorded)
 * times the cap, and each entry lives at most one flow lifetime.
 */
import { FedmeshError } from '../common/errors.js';

interface Guard {
  principal: string;
  expiresAtMs: number;
}

/** The refusal of a principal that signed in `max` times within one flow lifetime (HTTP 429 at the callback). */
export function tooManySignIns(max: number, retryAfterSec: number): FedmeshError {
  return new FedmeshError(
    'RESOURCE_EXHAUSTED',
    `sign-in is refused for now: this account signed in ${max} times within one sign-in lifetime (login.maxSignInsPerUser), more than a person needs; try again in ${retryAfterSec} s`,
    { field: 'maxSignInsPerUser', details: { retryAfterSec } },
  );
}

export class FinishedFlows {
  /** Keyed by flow id, in the order the sign-ins succeeded. */
  private readonly guards = new Map<string, Guard>();
  /** Each principal's flow ids, oldest first. */
  private readonly byPrincipal = new Map<string, string[]>();

  /** @param maxPerPrincipal most live guards (sign-ins within one flow lifetime) of one principal */
  constructor(private readonly maxPerPrincipal: number) {}

  get size(): number {
    return this.guards.size;
  }

  has(flowId: string): boolean {
    return this.guards.has(flowId);
  }

  /**
   * Checks that `principal` may sign in once more at `nowMs` (its own expired guards are dropped first), without
   * recording anything: called before the session is opened.
   * @throws FedmeshError RESOURCE_EXHAUSTED (field maxSignInsPerUser) when it holds its maximum of live guards
   */
  checkRoom(principal: string, nowMs: number): void {
    this.prune(nowMs);
    const own = this.byPrincipal.get(principal);
    if (!own || own.length < this.maxPerPrincipal) return;
    for (const id of [...own]) if ((this.guards.get(id)?.expiresAtMs ?? 0) <= nowMs) this.drop(id);
    const left = this.byPrincipal.get(principal);
    if (left && left.length >= this.maxPerPrincipal) {
      const soonest = Math.min(...left.map((id) => this.guards.get(id)!.expiresAtMs));
      throw tooManySignIns(this.maxPerPrincipal, Math.max(1, Math.ceil((soonest - nowMs) / 1000)));
    }
  }

  /** Records a succeeded sign-in's flow until `expiresAtMs` (after {@link checkRoom}). */
  add(flowId: string, principal: string, expiresAtMs: number): void {
    this.guards.set(flowId, { principal, expiresAtMs });
    const own = this.byPrincipal.get(principal) ?? [];
    own.push(flowId);
    this.byPrincipal.set(principal, own);
  }

  /**
   * Drops expired guards from the oldest on, stopping at the first live one: insertion order is nearly expiry order
   * (flows of one lifetime), so a sign-in costs what it removes; one left behind goes within a flow lifetime, and
   * a principal at its cap has its own swept in full.
   */
  private prune(nowMs: number): void {
    for (const [id, g] of this.guards) {
      if (g.expiresAtMs > nowMs) break;
      this.drop(id);
    }
  }

  private drop(flowId: string): void {
    const g = this.guards.get(flowId);
    if (!g) return;
    this.guards.delete(flowId);
    const own = this.byPrincipal.get(g.principal);
    if (!own) return;
    const i = own.indexOf(flowId);
    if (i >= 0) own.splice(i, 1);
    if (own.length === 0) this.byPrincipal.delete(g.principal);
  }
}
