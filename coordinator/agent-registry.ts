import type { AgentRegistration, AgentTask, ProductDescriptor } from '../common/agent-protocol.js';

export interface AgentView {
  name: string;
  domain: string;
  connected: boolean;
  connectedSinceMs: number;
  lastHeartbeatMs: number;
  products: ProductDescriptor[];
  version: string;
  policy: AgentRegistration['policy'];
  /** The agent's certificate-signed identity key, relayed (never verified as trusted) to peers in secure jobs. */
  identity?: AgentRegistration['identity'];
  /** The agent's last ingest, as it registered it. */
  ingest?: AgentRegistration['ingest'];
}

/**
 * An agent of the mesh: it registered once and counts until an administrator removes it, live or not. Only the
 * names of the products it served are kept while it is away (bounded by the registration limits), so a job on one
 * of them knows it would miss this agent.
 */
export interface AgentMember {
  name: string;
  domain: string;
  /** Names of the products it served at its last registration. */
  products: string[];
  registeredAtMs: number;
  lastHeartbeatMs: number;
  /** When it stopped being live (undefined while live). */
  notLiveSinceMs?: number;
  /** Why it stopped being live: its stream closed, or its heartbeats stopped. */
  notLiveReason?: string;
}

/** A member that is not live, as listed: no products served (the catalog is what live agents serve). */
export interface AgentListing extends AgentView {
  /** Members that are not live: names of the products they served, the reason and since when. */
  member?: AgentMember;
}

interface Session extends AgentView {
  sessionId: number;
  /** Sends a task down the agent's link; false when the link refused it (too much already waits for the agent). */
  send: (task: AgentTask) => boolean | void;
  close: () => void;
  /** Sends CancelTask down the stream (absent for transports that cannot). */
  cancel?: (taskId: string) => void;
}

export interface RegistryOptions {
  /** Interval agents are asked to send heartbeats at. @default 2000 */
  heartbeatIntervalMs: number;
  /** An agent silent for this long is considered gone and its stream closed. @default 3 × heartbeat */
  livenessTimeoutMs: number;
}

/**
 * The agents the coordinator knows: live sessions keyed by certificate identity, and members (every agent that
 * ever registered and was not removed by an administrator), live or not. One live session per identity: a
 * reconnect replaces the old one. A member that is not live serves nothing, but the default quorum of a job on a
 * product it served still counts it: a job must not silently answer over fewer agents than the mesh has.
 */
export class AgentRegistry {
  private readonly sessions = new Map<string, Session>();
  private readonly members = new Map<string, AgentMember>();
  private readonly disconnectListeners: ((name: string) => void)[] = [];
  private readonly connectListeners: ((name: string) => void)[] = [];
  private nextSession = 1;
  private readonly sweeper: NodeJS.Timeout;

  constructor(readonly options: RegistryOptions) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.floor(options.heartbeatIntervalMs / 2)));
    this.sweeper.unref();
  }

  onDisconnect(fn: (name: string) => void): void {
    this.disconnectListeners.push(fn);
  }
  onConnect(fn: (name: string) => void): void {
    this.connectListeners.push(fn);
  }

  /** Members remembered from an earlier run of the coordinator: not live until they reconnect. */
  restore(members: readonly AgentMember[], sinceMs: number): void {
    for (const m of members) {
      if (this.sessions.has(m.name)) continue;
      this.members.set(m.name, { ...m, notLiveSinceMs: m.notLiveSinceMs ?? sinceMs, notLiveReason: m.notLiveReason ?? 'not reconnected since the coordinator restarted' });
    }
  }

  /** Attaches a newly registered stream; returns its session id. */
  attach(name: string, reg: AgentRegistration, send: (task: AgentTask) => boolean | void, close: () => void, cancel?: (taskId: string) => void): number {
    const old = this.sessions.get(name);
    if (old) this.detach(name, old.sessionId);
    const now = Date.now();
    const s: Session = {
      name,
      domain: reg.domain || name,
      connected: true,
      connectedSinceMs: now,
      lastHeartbeatMs: now,
      products: reg.products,
      version: reg.version,
      policy: reg.policy,
      ...(reg.identity ? { identity: reg.identity } : {}),
      ...(reg.ingest ? { ingest: reg.ingest } : {}),
      sessionId: this.nextSession++,
      send,
      close,
      ...(cancel ? { cancel } : {}),
    };
    this.sessions.set(name, s);
    const prev = this.members.get(name);
    this.members.set(name, { name, domain: s.domain, products: reg.products.map((p) => p.name), registeredAtMs: prev?.registeredAtMs ?? now, lastHeartbeatMs: now });
    for (const l of this.connectListeners) l(name);
    return s.sessionId;
  }

  /**
   * Replaces the catalogue (products, policy, ingest status) of the current session of `name`, keeping its
   * identity key and stream. Jobs admitted before keep the agents they were admitted with.
   * @returns false when `sessionId` is not the current session
   */
  update(name: string, sessionId: number, reg: AgentRegistration): boolean {
    const s = this.sessions.get(name);
    if (!s || s.sessionId !== sessionId) return false;
    s.domain = reg.domain || name;
    s.products = reg.products;
    s.version = reg.version;
    s.policy = reg.policy;
    if (reg.ingest) s.ingest = reg.ingest;
    else delete s.ingest;
    s.lastHeartbeatMs = Date.now();
    // A reload that drops a product drops it from what the member serves, so default quorums stop requiring it here.
    const m = this.members.get(name);
    if (m) this.members.set(name, { ...m, domain: s.domain, products: reg.products.map((p) => p.name), lastHeartbeatMs: s.lastHeartbeatMs });
    return true;
  }

  heartbeat(name: string, sessionId: number): void {
    const s = this.sessions.get(name);
    if (s && s.sessionId === sessionId) s.lastHeartbeatMs = Date.now();
  }

  /** Removes a session if it is still the current one for `name`; the agent stays a member, not live. */
  detach(name: string, sessionId: number, reason = 'its stream closed'): void {
    const s = this.sessions.get(name);
    if (!s || s.sessionId !== sessionId) return;
    this.sessions.delete(name);
    const m = this.members.get(name);
    if (m) Object.assign(m, { lastHeartbeatMs: s.lastHeartbeatMs, notLiveSinceMs: Date.now(), notLiveReason: reason });
    try {
      s.close();
    } catch {
      // stream already gone
    }
    for (const l of this.disconnectListeners) l(name);
  }

  /**
   * Forgets a member that is not live (an administrator's decision: the agent left the mesh for good).
   * @returns 'removed', 'live' (refused: a live agent would register again at once) or 'unknown'
   */
  remove(name: string): 'removed' | 'live' | 'unknown' {
    if (this.sessions.has(name)) return 'live';
    return this.members.delete(name) ? 'removed' : 'unknown';
  }

  isCurrent(name: string, sessionId: number): boolean {
    return this.sessions.get(name)?.sessionId === sessionId;
  }

  /** @returns 'sent', 'absent' (not connected) or 'busy' (its link refused the task: too much already waits for it) */
  send(name: string, task: AgentTask): 'sent' | 'absent' | 'busy' {
    const s = this.sessions.get(name);
    if (!s) return 'absent';
    return s.send(task) === false ? 'busy' : 'sent';
  }

  /** Asks `name` to stop working on a task (best effort: the agent may already have answered or be gone). */
  cancel(name: string, taskId: string): void {
    try {
      this.sessions.get(name)?.cancel?.(taskId);
    } catch {
      // stream already gone: nothing left to cancel
    }
  }

  connected(): AgentView[] {
    return [...this.sessions.values()].map((s) => this.view(s));
  }

  /** Every member, live or not (copies). */
  memberList(): AgentMember[] {
    return [...this.members.values()].map((m) => ({ ...m, products: [...m.products] }));
  }

  member(name: string): AgentMember | undefined {
    const m = this.members.get(name);
    return m ? { ...m, products: [...m.products] } : undefined;
  }

  list(): AgentListing[] {
    const out = new Map<string, AgentListing>();
    for (const m of this.members.values()) {
      if (this.sessions.has(m.name)) continue;
      out.set(m.name, {
        name: m.name,
        domain: m.domain,
        connected: false,
        connectedSinceMs: 0,
        lastHeartbeatMs: m.lastHeartbeatMs,
        products: [],
        version: '',
        policy: { minCellSize: 0, allowModes: [], allowKinds: [] },
        member: { ...m, products: [...m.products] },
      });
    }
    for (const s of this.sessions.values()) out.set(s.name, this.view(s));
    return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  private view(s: Session): AgentView {
    return {
      name: s.name,
      domain: s.domain,
      connected: true,
      connectedSinceMs: s.connectedSinceMs,
      lastHeartbeatMs: s.lastHeartbeatMs,
      products: s.products,
      version: s.version,
      policy: s.policy,
      ...(s.identity ? { identity: s.identity } : {}),
      ...(s.ingest ? { ingest: s.ingest } : {}),
    };
  }

  private sweep(): void {
    const now = Date.now();
    for (const s of [...this.sessions.values()]) {
      if (now - s.lastHeartbeatMs > this.options.livenessTimeoutMs) this.detach(s.name, s.sessionId, `no heartbeat for more than ${this.options.livenessTimeoutMs} ms`);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const s of [...this.sessions.values()]) this.detach(s.name, s.sessionId, 'the coordinator shut down');
  }
}
