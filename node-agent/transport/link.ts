import type * as grpc from '@grpc/grpc-js';
import type { AgentRegistration, AgentTask, AgentTaskReply } from '../../common/agent-protocol.js';
import { ChunkAssembler, chunkBit, clientCredentials, clientChannelOptions, fedmeshV1, splitIntoChunks, writeInOrder, type WireChunk } from '../../common/transport/index.js';
import { FedmeshError } from '../../common/errors.js';
import type { TlsMaterial } from '../../common/tls.js';

/** The shortest time between two registration updates on one link (10 a second, half the coordinator's limit). */
export const MIN_UPDATE_INTERVAL_MS = 100;

export interface LinkOptions {
  coordinator: string;
  tls: TlsMaterial | undefined;
  registration: () => AgentRegistration;
  onTask: (task: AgentTask) => Promise<AgentTaskReply>;
  /** The key the coordinator signs identity assertions with, as it publishes it at registration. */
  onCoordinatorKey?: (key: Uint8Array) => void;
  /** CancelTask from the coordinator: stop the task's work (its reply, if any, is ignored there). */
  onCancel?: (taskId: string) => void;
  log: (event: string, fields?: Record<string, unknown>) => void;
  /** @default 100 */
  initialBackoffMs?: number;
  /** @default 5000 */
  maxBackoffMs?: number;
}

interface WireMessage {
  body?: string;
  registered?: { agentId: string; heartbeatIntervalMs: number; coordinatorIdentityKey?: Buffer };
  task?: { taskId: string; jobId: string; kind: string; specJson: string; deadlineUnixMs: string; round: number; researcher: string; payload: Buffer; conceptIds?: string[]; identityAssertion?: string; chunked?: number };
  cancel?: { taskId: string };
  chunk?: WireChunk;
}

/**
 * The agent's side of the link: it dials OUT to the coordinator and keeps one bidirectional stream, over which
 * it registers, sends heartbeats, receives tasks and returns results. When the stream breaks it reconnects with
 * exponential backoff, so a coordinator restart heals by itself.
 */
export class AgentLink {
  private client: grpc.Client | undefined;
  private call: grpc.ClientDuplexStream<unknown, WireMessage> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  /** A registration update waiting for its turn, and when the last one was sent (updateRegistration). */
  private updateTimer: NodeJS.Timeout | undefined;
  private pendingUpdate: Promise<void> | undefined;
  private resolveUpdate: (() => void) | undefined;
  private lastUpdateMs = 0;
  private retry: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private stopped = false;
  private registeredListeners: ((agentId: string) => void)[] = [];
  private brokenListeners: (() => void)[] = [];
  private linked = false;
  /** Each stream's pieces of large task payloads (common/transport/chunks.ts). */
  private readonly chunks = new WeakMap<object, ChunkAssembler>();
  agentId: string | undefined;

  constructor(private readonly options: LinkOptions) {
    this.backoffMs = options.initialBackoffMs ?? 100;
  }

  start(): void {
    const Ctor = fedmeshV1().AgentLink!;
    this.client = new Ctor(this.options.coordinator, clientCredentials(this.options.tls), clientChannelOptions(this.options.coordinator, this.options.tls !== undefined));
    this.connect();
  }

  onRegistered(fn: (agentId: string) => void): void {
    this.registeredListeners.push(fn);
  }

  /** Told when a registered link breaks (it reconnects by itself). */
  onBroken(fn: () => void): void {
    this.brokenListeners.push(fn);
  }

  /** Whether the coordinator has accepted this agent's registration on the current stream. */
  isRegistered(): boolean {
    return this.linked;
  }

  private connect(): void {
    if (this.stopped || !this.client) return;
    const call = (this.client as unknown as { connect: () => grpc.ClientDuplexStream<unknown, WireMessage> }).connect();
    this.call = call;
    this.chunks.set(call, new ChunkAssembler());
    call.write(this.registerMessage());
    call.on('data', (msg: WireMessage) => this.onMessage(call, msg));
    call.on('error', (e: grpc.ServiceError) => {
      this.options.log('link-error', { code: e.code, message: e.details });
    });
    call.on('close', () => this.streamBroken(call));
    call.on('end', () => this.streamBroken(call));
  }

  /** The `register` message of the agent's current registration. */
  private registerMessage(): Record<string, unknown> {
    const reg = this.options.registration();
    return {
      register: {
        name: reg.name,
        domain: reg.domain,
        version: reg.version,
        policyJson: JSON.stringify(reg.policy),
        products: reg.products.map((p) => ({ name: p.name, columns: p.columns, privacyUnit: p.privacyUnit, description: p.description, metadataJson: JSON.stringify(p.metadata) })),
        ...(reg.identity
          ? { identityPublicKey: Buffer.from(reg.identity.identityPublicKey), identitySignature: Buffer.from(reg.identity.signature), certificatePem: reg.identity.certificatePem }
          : {}),
        ...(reg.ingest ? { ingest: { state: reg.ingest.state, failed: reg.ingest.failed, notices: reg.ingest.notices, omitted: reg.ingest.omitted, atUnixMs: String(reg.ingest.atMs) } } : {}),
      },
    };
  }

  /**
   * Sends the current registration again on the open stream (after a reload changed the catalogue); the
   * coordinator replaces what it lists for this agent. Without a stream, the next connect registers it anyway.
   */
  updateRegistration(): Promise<void> {
    // At most one update per MIN_UPDATE_INTERVAL_MS; updates asked for meanwhile share one trailing send, of the
    // registration as it is then. A site's operator sending SIGHUP in a loop cannot reach the coordinator's limit
    // of 1 200 registrations a minute and lose the link. Resolves once this update's message is handed to the stream.
    if (this.pendingUpdate) return this.pendingUpdate;
    const wait = this.lastUpdateMs + MIN_UPDATE_INTERVAL_MS - Date.now();
    const send = (): void => {
      this.updateTimer = undefined;
      this.pendingUpdate = undefined;
      this.lastUpdateMs = Date.now();
      this.call?.write(this.registerMessage());
    };
    if (wait <= 0) {
      send();
      return Promise.resolve();
    }
    this.pendingUpdate = new Promise<void>((resolve) => {
      this.updateTimer = setTimeout(() => {
        send();
        resolve();
      }, wait);
      this.updateTimer.unref();
      this.resolveUpdate = resolve;
    });
    return this.pendingUpdate;
  }

  private onMessage(call: grpc.ClientDuplexStream<unknown, WireMessage>, msg: WireMessage): void {
    if (msg.registered) {
      this.backoffMs = this.options.initialBackoffMs ?? 100;
      this.agentId = msg.registered.agentId;
      this.linked = true;
      this.options.log('registered', { agentId: msg.registered.agentId });
      const key = msg.registered.coordinatorIdentityKey;
      if (key && key.length > 0) this.options.onCoordinatorKey?.(new Uint8Array(key));
      clearInterval(this.heartbeat);
      const every = Math.max(200, msg.registered.heartbeatIntervalMs || 2000);
      this.heartbeat = setInterval(() => {
        if (this.call === call) call.write({ heartbeat: { sentAtMs: String(Date.now()) } });
      }, every);
      this.heartbeat.unref();
      for (const l of this.registeredListeners) l(msg.registered.agentId);
      return;
    }
    if (msg.cancel) {
      this.options.onCancel?.(msg.cancel.taskId);
      return;
    }
    const chunks = this.chunks.get(call)!;
    if (msg.chunk) {
      try {
        chunks.add(msg.chunk);
      } catch (e) {
        // A coordinator that breaks the piece protocol: drop the stream (its pieces with it) and reconnect.
        this.options.log('link-chunk-refused', { reason: e instanceof Error ? e.message.slice(0, 300) : String(e) });
        chunks.clear();
        call.cancel();
      }
      return;
    }
    if (msg.task) {
      const t = msg.task;
      let payload: Uint8Array;
      try {
        payload = (t.chunked ?? 0) & chunkBit(1) ? chunks.take(t.taskId, 1) : new Uint8Array(t.payload ?? []);
      } catch (e) {
        const err = e instanceof FedmeshError ? e : new FedmeshError('INVALID_ARGUMENT', 'task payload unreadable');
        call.write({ failure: { taskId: t.taskId, error: { code: err.code, message: err.message, field: 'payload' } } });
        return;
      }
      const task: AgentTask = {
        taskId: t.taskId,
        jobId: t.jobId,
        kind: t.kind,
        specJson: t.specJson,
        deadlineMs: Number(t.deadlineUnixMs),
        round: t.round,
        researcher: t.researcher,
        payload,
        ...(t.conceptIds && t.conceptIds.length > 0 ? { conceptIds: t.conceptIds.map(Number) } : {}),
        ...(t.identityAssertion ? { identityAssertion: t.identityAssertion } : {}),
      };
      void this.options.onTask(task).then((reply) => {
        if (this.call !== call) return;
        if (reply.ok) {
          // Large fields go first in pieces (common/transport/chunks.ts); the result then names them in `chunked`.
          const arrowPieces = splitIntoChunks(reply.taskId, 1, reply.arrow);
          const payloadPieces = reply.payload ? splitIntoChunks(reply.taskId, 2, reply.payload) : [];
          const chunked = (arrowPieces.length > 0 ? chunkBit(1) : 0) | (payloadPieces.length > 0 ? chunkBit(2) : 0);
          const result = {
            result: {
              taskId: reply.taskId,
              arrowIpc: arrowPieces.length > 0 ? Buffer.alloc(0) : Buffer.from(reply.arrow),
              metaJson: JSON.stringify(reply.meta),
              payload: reply.payload && payloadPieces.length === 0 ? Buffer.from(reply.payload.buffer, reply.payload.byteOffset, reply.payload.byteLength) : Buffer.alloc(0),
              conceptNames: (reply.conceptNames ?? []).map((c) => ({ conceptId: String(c.conceptId), conceptName: c.name })),
              chunked,
            },
          };
          if (chunked === 0) call.write(result);
          else void writeInOrder(call, [...arrowPieces, ...payloadPieces].map((chunk) => ({ chunk })).concat([result as never]));
        }
        else call.write({ failure: { taskId: reply.taskId, error: reply.error } });
      });
    }
  }

  private streamBroken(call: grpc.ClientDuplexStream<unknown, WireMessage>): void {
    if (this.call !== call) return;
    this.call = undefined;
    if (this.linked) {
      this.linked = false;
      for (const l of this.brokenListeners) l();
    }
    clearInterval(this.heartbeat);
    if (this.stopped) return;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 5000);
    this.options.log('reconnecting', { inMs: wait });
    this.retry = setTimeout(() => this.connect(), wait);
  }

  stop(): void {
    this.stopped = true;
    this.linked = false;
    clearInterval(this.heartbeat);
    clearTimeout(this.retry);
    clearTimeout(this.updateTimer);
    this.updateTimer = undefined;
    // A stopped link sends nothing more; whoever waits for a pending update is let go.
    this.resolveUpdate?.();
    this.pendingUpdate = undefined;
    const call = this.call;
    this.call = undefined;
    call?.end();
    call?.cancel();
    this.client?.close();
  }
}
