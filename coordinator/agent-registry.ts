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

interface Session extends AgentView {
  sessionId: number;
  send: (task: AgentTask) => void;
  close: () => void;
  /** Sends CancelTask down the stream (absent for transports that cannot). */
  cancel?: (taskId: string) => void;
}

export interface RegistryOptions {
  /** Interval agents are asked to send heartbeats at. @default 2000 */
  heartbeatIntervalMs: number;
  /** An agent silent for this long is considered gone and its stream closed. @default 3 × heartbeat */
  livenessTimeoutMs: number;
  /**
   * How long a disconnected agent stays listed (as disconnected, without products) before it is forgotten.
   * @default 600000 (10 minutes)
   */
  disconnectedGraceMs?: number;
}

/** @see RegistryOptions.disconnectedGraceMs */
export const DEFAULT_DISCONNECTED_GRACE_MS = 10 * 60_000;

/**
 * The agents the coordinator knows: live sessions keyed by certificate identity, plus agents that went away, shown
 * as disconnected for a grace period and then forgotten. One live session per identity: a reconnect replaces the
 * old one. A disconnected agent's products are dropped at once: the catalog is only what connected agents serve,
 * and the registry's memory is bounded by the connected agents' (size-limited) registrations.
 */
export class AgentRegistry {
  private readonly sessions = new Map<string, Session>();
  /** Disconnected agents (no products), with when they went away. */
  private readonly known = new Map<string, AgentView & { disconnectedAtMs: number }>();
  private readonly disconnectListeners: ((name: string) => void)[] = [];
  private readonly connectListeners: ((name: string) => void)[] = [];
  private nextSession = 1;
  private readonly sweeper: NodeJS.Timeout;

  constructor(readonly options: RegistryOptions) {
    const grace = options.disconnectedGraceMs ?? DEFAULT_DISCONNECTED_GRACE_MS;
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, Math.floor(Math.min(options.heartbeatIntervalMs, grace) / 2)));
    this.sweeper.unref();
  }

  onDisconnect(fn: (name: string) => void): void {
    this.disconnectListeners.push(fn);
  }
  onConnect(fn: (name: string) => void): void {
    this.connectListeners.push(fn);
  }

  /** Attaches a newly registered stream; returns its session id. */
  attach(name: string, reg: AgentRegistration, send: (task: AgentTask) => void, close: () => void, cancel?: (taskId: string) => void): number {
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
    this.known.delete(name);
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
    return true;
  }

  heartbeat(name: string, sessionId: number): void {
    const s = this.sessions.get(name);
    if (s && s.sessionId === sessionId) s.lastHeartbeatMs = Date.now();
  }

  /** Removes a session if it is still the current one for `name`. */
  detach(name: string, sessionId: number): void {
    const s = this.sessions.get(name);
    if (!s || s.sessionId !== sessionId) return;
    this.sessions.delete(name);
    this.known.set(name, { ...this.view(s), connected: false, products: [], disconnectedAtMs: Date.now() });
    try {
      s.close();
    } catch {
      // stream already gone
    }
    for (const l of this.disconnectListeners) l(name);
  }

  isCurrent(name: string, sessionId: number): boolean {
    return this.sessions.get(name)?.sessionId === sessionId;
  }

  send(name: string, task: AgentTask): boolean {
    const s = this.sessions.get(name);
    if (!s) return false;
    s.send(task);
    return true;
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

  list(): AgentView[] {
    const out = new Map<string, AgentView>();
    for (const [name, { disconnectedAtMs: _, ...view }] of this.known) out.set(name, view);
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
      if (now - s.lastHeartbeatMs > this.options.livenessTimeoutMs) this.detach(s.name, s.sessionId);
    }
    const grace = this.options.disconnectedGraceMs ?? DEFAULT_DISCONNECTED_GRACE_MS;
    for (const [name, k] of [...this.known]) if (now - k.disconnectedAtMs > grace) this.known.delete(name);
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const s of [...this.sessions.values()]) this.detach(s.name, s.sessionId);
  }
}
