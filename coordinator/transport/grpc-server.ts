import * as grpc from '@grpc/grpc-js';
import { ChunkAssembler, chunkBit, HealthReporter, shutdownServer, peerIdentity, serverCredentials, fedmeshV1, isLoopbackHost, SERVER_OPTIONS, toGrpcError, serialWriter, type WireChunk } from '../../common/transport/index.js';
import { FedmeshError, quote } from '../../common/errors.js';
import { isUndecodable, withTolerantDeserializers } from './undecodable.js';
import type { TlsMaterial } from '../../common/tls.js';
import type { BudgetTarget, Coordinator } from '../coordinator.js';
import { StreamSlots } from '../stream-slots.js';
import type { Principal } from '../principal.js';
import { authenticateCaller, type CallerAuth } from './authenticate.js';
import type { OidcVerifier } from '../identity/index.js';
import { checkRegistrationSize, REGISTRATION_LIMITS } from '../registration-limits.js';
import { resetCallStream } from './reset-call.js';
import { MAX_ROUND_PAYLOAD_BYTES } from '../../common/kinds/index.js';
import {
  agentToWire, budgetEntryToWire, projectBudgetToWire, eventToWire, jobSummaryToWire, jobToWire, registrationFromWire, replyFromWire, resultPart, RESULT_CHUNK_BYTES, RESULT_PARTS, taskMessages,
  type ResultPartName, type WireRegister,
} from './codec.js';

export interface CoordinatorServerOptions {
  /** HOST:PORT; port 0 lets the OS choose. */
  listen: string;
  tls: TlsMaterial | undefined;
  /** Plaintext, for loopback development only. */
  insecure?: boolean;
  /** The health service to serve on this port (and, if the caller wishes, on a plaintext probe port). @default a new one */
  health?: HealthReporter;
  /**
   * Also accept researchers with an OpenID Connect bearer token. The port then asks for a client certificate
   * without requiring one (agents and certificate researchers are unchanged; a call without a certificate must
   * carry a valid token). @default undefined (certificates only)
   */
  oidc?: OidcVerifier;
}

export interface RunningServer {
  port: number;
  address: string;
  /** SERVING once bound, NOT_SERVING from the start of `close()`. */
  health: HealthReporter;
  close(): Promise<void>;
}

/** The name under which the coordinator reports health (besides the overall ''). */
export const COORDINATOR_HEALTH_SERVICE = 'fedmesh.v1.Coordinator';

const REGISTER_TIMEOUT_MS = 10_000;
/** Live GetJobResult + WatchJob streams one researcher may hold; beyond it RESOURCE_EXHAUSTED. */
export const MAX_RESULT_STREAMS_PER_CALLER = 16;
/** Task bytes that may wait for one agent's link: three tasks at the round payload limit. */
const AGENT_LINK_QUEUED_BYTES = 3 * MAX_ROUND_PAYLOAD_BYTES;

function splitHostPort(listen: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new RangeError(`--listen must be HOST:PORT, got ${quote(listen)}`);
  const port = Number(m[2]);
  if (port > 65535) throw new RangeError(`--listen port out of range: ${port}`);
  return { host: m[1]!, port };
}

type Log = (event: string, fields?: Record<string, unknown>) => void;

/**
 * Maps a failure to its status and logs what the operator must see: refused callers and internal errors, with
 * their cause (error class and a cut message, never a data value: messages echo input only through quote()).
 */
function failure(log: Log, method: string, caller: string | undefined, e: unknown): grpc.ServiceError {
  const status = toGrpcError(e);
  if (status.code === grpc.status.INTERNAL) {
    log('internal-error', { method, ...(caller ? { caller } : {}), error: e instanceof Error ? e.name : typeof e, cause: quote(e instanceof Error ? e.message : String(e), 300) });
  } else if (status.code === grpc.status.UNAUTHENTICATED) {
    log('call-refused', { method, reason: status.details, role: (e as FedmeshError).details?.role ?? 'none', ...((e as FedmeshError).details?.reason ? { auth: 'bearer' } : {}) });
  }
  return status as grpc.ServiceError;
}

function undecodable(method: string): FedmeshError {
  return new FedmeshError('INVALID_ARGUMENT', `the request is not a valid ${method} protobuf message`);
}

function unary<Req, Res>(log: Log, method: string, auth: CallerAuth, fn: (caller: Principal, req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    authenticateCaller(call, auth).then(
      (caller) => {
        if (isUndecodable(call.request)) {
          callback(failure(log, method, caller.name, undecodable(method)));
          return;
        }
        fn(caller, call.request).then(
          (res) => callback(null, res),
          (e: unknown) => callback(failure(log, method, caller.name, e)),
        );
      },
      (e: unknown) => callback(failure(log, method, undefined, e)),
    );
  };
}

/** Writes to a server stream, waiting for 'drain' when grpc-js's buffer is full (so a large result is not queued whole). */
function write(call: grpc.ServerWritableStream<unknown, unknown>, msg: unknown): Promise<void> {
  if (call.write(msg)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (): void => {
      call.off('drain', done);
      call.off('cancelled', gone);
      resolve();
    };
    const gone = (): void => {
      call.off('drain', done);
      reject(new FedmeshError('CANCELLED', 'the caller went away'));
    };
    call.once('drain', done);
    call.once('cancelled', gone);
  });
}

/**
 * Logs TLS handshakes the server refuses (no client certificate, another CA, plaintext). grpc-js does not surface
 * them, so we listen on the HTTP/2 server it creates; `createHttp2Server` is internal to grpc-js 1.14 (pinned), and
 * test/integration/server-logging.test.ts fails if that changes.
 */
function logRefusedHandshakes(server: grpc.Server, log: Log): void {
  const inner = server as unknown as { createHttp2Server?: (creds: unknown) => { on(ev: string, fn: (...a: unknown[]) => void): void } };
  const create = inner.createHttp2Server;
  if (typeof create !== 'function') {
    log('tls-refusal-logging-unavailable', { reason: 'grpc-js internals changed' });
    return;
  }
  inner.createHttp2Server = (creds: unknown) => {
    const h = create.call(server, creds);
    h.on('tlsClientError', (err: unknown, socket: unknown) => {
      const e = err as { code?: string; message?: string };
      log('tls-handshake-refused', { remote: (socket as { remoteAddress?: string } | undefined)?.remoteAddress ?? '?', reason: e.code ?? quote(e.message ?? String(err), 200) });
    });
    return h;
  };
}

/** Serves the researcher API and the agent link on one port, with mutual TLS unless `insecure`. */
export async function startCoordinatorServer(coordinator: Coordinator, options: CoordinatorServerOptions): Promise<RunningServer> {
  const { host } = splitHostPort(options.listen);
  const insecure = options.insecure === true;
  if (insecure && !isLoopbackHost(host)) throw new RangeError('--insecure is for loopback development only: listen on 127.0.0.1 or localhost');
  if (!insecure && !options.tls) throw new RangeError('TLS material is required unless --insecure');
  const auth: CallerAuth = { insecure, oidc: options.oidc };
  const v1 = fedmeshV1();
  // Live GetJobResult and WatchJob streams per researcher: each holds memory (up to a result piece, a job record)
  // for as long as its caller keeps it open without reading (red team 41, B F3: 400 paused streams, 1.7 GB).
  const streams = new StreamSlots(MAX_RESULT_STREAMS_PER_CALLER, 'read the results you asked for, or wait for their streams to end');
  const server = new grpc.Server(SERVER_OPTIONS);
  const log: Log = coordinator.log;
  logRefusedHandshakes(server, log);
  const health = options.health ?? new HealthReporter(COORDINATOR_HEALTH_SERVICE);
  health.addToServer(server);

  server.addService(withTolerantDeserializers(v1.Coordinator!.service), {
    submitJob: unary<{ specJson: string }, unknown>(log, 'SubmitJob', auth, async (caller, req) => {
      if (caller.isAdmin) throw new FedmeshError('POLICY_DENIED', 'administrator certificates cannot submit jobs; use a researcher certificate');
      return jobToWire(await coordinator.submitJob(caller, req.specJson));
    }),
    getBudget: unary<{ researcher: string }, unknown>(log, 'GetBudget', auth, async (caller, req) => ({
      entries: [
        ...(await coordinator.budgetReport(caller.name, caller.isAdmin, req.researcher || undefined)).map(budgetEntryToWire),
        ...(await coordinator.ledger.projectReport(caller.isAdmin ? req.researcher || undefined : caller.name)).map(projectBudgetToWire),
      ],
      defaultEpsilon: coordinator.options.defaultBudget.epsilon,
      defaultDelta: coordinator.options.defaultBudget.delta,
    })),
    setBudget: unary<{ researcher: string; project: string; product: string; population: string; epsilon: number; delta: number }, unknown>(log, 'SetBudget', auth, async (caller, req) => {
      const project = req.project ?? '';
      if (project !== '' && (req.researcher ?? '') !== '') throw new FedmeshError('INVALID_ARGUMENT', 'give exactly one of researcher and project', { field: 'project' });
      const budget = { epsilon: req.epsilon, delta: req.delta };
      if (project !== '') return projectBudgetToWire(await coordinator.setProjectBudget(caller.name, caller.isAdmin, project, budgetTarget(req.product, req.population), budget));
      return budgetEntryToWire(await coordinator.setBudget(caller.name, caller.isAdmin, req.researcher, budgetTarget(req.product, req.population), budget));
    }),
    getJob: unary<{ jobId: string }, unknown>(log, 'GetJob', auth, async (caller, req) => jobToWire(await coordinator.getJob(caller, req.jobId))),
    listJobs: unary<{ limit: number }, unknown>(log, 'ListJobs', auth, async (caller, req) => ({ jobs: (await coordinator.listJobs(caller, req.limit || 50)).map(jobSummaryToWire) })),
    listAgents: unary<unknown, unknown>(log, 'ListAgents', auth, async () => ({ agents: coordinator.listAgents().map(agentToWire) })),
    removeAgent: unary<{ name: string }, unknown>(log, 'RemoveAgent', auth, async (caller, req) => {
      await coordinator.removeAgent(caller, req.name);
      return { name: req.name };
    }),
    getJobResult: (call: grpc.ServerWritableStream<{ jobId: string; parts: string[] }, unknown>) => {
      let caller: Principal | undefined;
      let release: (() => void) | undefined;
      const run = async (): Promise<void> => {
        caller = await authenticateCaller(call, auth);
        if (isUndecodable(call.request)) throw undecodable('GetJobResult');
        release = streams.acquire(caller);
        const job = await coordinator.getJob(caller, call.request.jobId);
        if (job.state !== 'succeeded') throw new FedmeshError('FAILED_PRECONDITION', `job ${job.id} has no result: it is ${job.state}`, { field: 'job_id' });
        // Each part once, whatever the request repeats (a part listed a million times was that many serialisations).
        const asked = [...new Set((call.request.parts ?? []).filter((p): p is ResultPartName => (RESULT_PARTS as readonly string[]).includes(p)))];
        for (const part of asked.length > 0 ? asked : RESULT_PARTS) {
          if (call.cancelled) return; // the caller went away: no more serialising for nobody
          const bytes = resultPart(job, part);
          const total = String(bytes.length);
          if (bytes.length === 0) await write(call, { part, offset: '0', data: Buffer.alloc(0), partBytes: total });
          for (let off = 0; off < bytes.length; off += RESULT_CHUNK_BYTES) {
            await write(call, { part, offset: String(off), data: bytes.subarray(off, off + RESULT_CHUNK_BYTES), partBytes: total });
          }
        }
        call.end();
      };
      run()
        .catch((e: unknown) => {
          if (!call.cancelled) call.emit('error', failure(log, 'GetJobResult', caller?.name, e));
        })
        .finally(() => release?.());
    },
    watchJob: (call: grpc.ServerWritableStream<{ jobId: string }, unknown>) => {
      let unsubscribe: (() => void) | undefined;
      let cancelled = false;
      call.on('cancelled', () => {
        cancelled = true;
        unsubscribe?.();
      });
      let caller: Principal | undefined;
      let release: (() => void) | undefined;
      call.on('close', () => release?.());
      call.on('cancelled', () => release?.());
      const run = async (): Promise<void> => {
        caller = await authenticateCaller(call, auth);
        if (isUndecodable(call.request)) throw undecodable('WatchJob');
        // The caller may have gone while it was authenticated (a token check is asynchronous): its close and cancel
        // events have passed, so nothing would give a slot back (red team 42). No slot, no watch.
        if (cancelled || call.cancelled) return;
        release = streams.acquire(caller);
        const u = await coordinator.watchJob(caller, call.request.jobId, (e, job) => {
          call.write(eventToWire(e, job));
          if (e.type === 'finished') {
            call.end();
            release?.();
          }
        });
        if (cancelled || call.cancelled) {
          u();
          release();
        } else unsubscribe = u;
      };
      run().catch((e: unknown) => {
        release?.();
        call.emit('error', failure(log, 'WatchJob', caller?.name, e));
      });
    },
  });

  server.addService(withTolerantDeserializers(v1.AgentLink!.service), {
    connect: (call: grpc.ServerDuplexStream<Record<string, unknown>, unknown>) => {
      const peer = peerIdentity(call as never);
      let identity: string | undefined;
      let session: number | undefined;
      let send: ((messages: readonly unknown[]) => boolean) | undefined;
      // Registrations again on this link (a data reload) within the last minute: bounded, as each one is parsed,
      // replaces the catalogue and is answered (red team 38, F4: a flood of them grew the coordinator's memory).
      const reloads: number[] = [];
      const chunks = new ChunkAssembler();
      const fail = (e: FedmeshError): void => {
        call.emit('error', toGrpcError(e));
      };
      if (!insecure && (!peer.name || peer.role !== 'agent')) {
        log('call-refused', { method: 'AgentLink.Connect', reason: 'not an agent certificate', role: peer.role ?? 'none' });
        fail(new FedmeshError('UNAUTHENTICATED', 'an agent client certificate is required on the agent link'));
        return;
      }
      const regTimer = setTimeout(() => {
        if (session === undefined) fail(new FedmeshError('FAILED_PRECONDITION', 'the first message on the agent link must be register'));
      }, REGISTER_TIMEOUT_MS);
      call.on('data', (msg: Record<string, unknown>) => {
        try {
          if (isUndecodable(msg)) throw undecodable('AgentLink.Connect');
          if (session === undefined) {
            if (!msg.register) throw new FedmeshError('FAILED_PRECONDITION', 'the first message on the agent link must be register');
            // Sizes first, before any metadata JSON is parsed or anything is kept.
            checkRegistrationSize(msg.register as WireRegister);
            const reg = registrationFromWire(msg.register as WireRegister);
            if (!/^[A-Za-z0-9_.-]{1,64}$/.test(reg.name)) throw new FedmeshError('INVALID_ARGUMENT', `register.name is not a valid agent name: ${quote(reg.name)}`);
            if (!insecure && reg.name !== peer.name) {
              throw new FedmeshError('POLICY_DENIED', `agent claims name ${reg.name} but its certificate is issued to ${peer.name}`);
            }
            identity = insecure ? reg.name : peer.name!;
            clearTimeout(regTimer);
            // Tasks and cancels leave in the order they were sent, a task's pieces included.
            // An agent that keeps its link open but stops reading it is given up (its heartbeats alone would keep
            // it, and the writer would hold every later task's payload): RESOURCE_EXHAUSTED, and the agent is gone.
            send = serialWriter(call, {
              maxQueuedBytes: AGENT_LINK_QUEUED_BYTES,
              stallMs: coordinator.options.linkStallTimeoutMs,
              onStall: (reason) => {
                // The status would wait behind the unread messages, so the stream is reset too: that frees them.
                const reset = resetCallStream(call);
                log('agent-link-stalled', { agent: identity ?? '?', reason, reset });
                fail(new FedmeshError('RESOURCE_EXHAUSTED', `agent link: ${reason}; the agent must read its stream (reconnect)`));
                if (identity !== undefined && session !== undefined) coordinator.agentDetached(identity, session);
              },
            });
            session = coordinator.agentAttached(identity, reg, (t) => send!(taskMessages(t)), () => call.end(), (taskId) => send!([{ cancel: { taskId } }]));
            call.write({ registered: { agentId: identity, heartbeatIntervalMs: coordinator.options.heartbeatIntervalMs, coordinatorIdentityKey: Buffer.from(coordinator.identities.publicKey) } });
            return;
          }
          if (msg.register) {
            // A reload at the agent: the same checks as the first registration, and the same name.
            checkRegistrationSize(msg.register as WireRegister);
            const reg = registrationFromWire(msg.register as WireRegister);
            if (reg.name !== identity) throw new FedmeshError('POLICY_DENIED', `agent ${identity} cannot register again as ${quote(reg.name)}`);
            const now = Date.now();
            while (reloads.length > 0 && reloads[0]! <= now - 60_000) reloads.shift();
            if (reloads.length >= REGISTRATION_LIMITS.maxReloadsPerMinute) throw new FedmeshError('RESOURCE_EXHAUSTED', `agent link: more than ${REGISTRATION_LIMITS.maxReloadsPerMinute} registrations a minute on one link`);
            reloads.push(now);
            // Through the link's writer, so an agent that does not read its answers is bounded and given up like any.
            if (coordinator.agentUpdated(identity!, session, reg)) send!([{ registered: { agentId: identity, heartbeatIntervalMs: coordinator.options.heartbeatIntervalMs, coordinatorIdentityKey: Buffer.from(coordinator.identities.publicKey) } }]);
            return;
          }
          if (msg.heartbeat) {
            coordinator.agentHeartbeat(identity!, session);
            return;
          }
          if (msg.chunk) {
            // A piece of a large reply field (common/transport/chunks.ts): bounded per link, and a sign of life. A
            // stream a newer registration replaced keeps nothing (its replies are dropped anyway): a hostile agent
            // cannot hold 128 MiB on each of many stale streams (red team 32 suspicion).
            if (!coordinator.registry.isCurrent(identity!, session)) {
              chunks.clear();
              return;
            }
            chunks.add(msg.chunk as WireChunk);
            coordinator.agentHeartbeat(identity!, session);
            return;
          }
          const result = msg.result as { taskId?: unknown; chunked?: number; arrowIpc?: Buffer; payload?: Buffer } | undefined;
          if (result && (result.chunked ?? 0) !== 0) {
            const id = String(result.taskId ?? '');
            if ((result.chunked ?? 0) & ~(chunkBit(1) | chunkBit(2))) throw new FedmeshError('INVALID_ARGUMENT', `result.chunked: unknown bits in ${result.chunked}`);
            if (result.chunked! & chunkBit(1)) result.arrowIpc = chunks.take(id, 1);
            if (result.chunked! & chunkBit(2)) result.payload = chunks.take(id, 2);
          }
          const reply = replyFromWire(msg as never);
          if (reply) {
            coordinator.agentHeartbeat(identity!, session);
            coordinator.agentReply(identity!, session, reply);
          }
        } catch (e) {
          const err = e instanceof FedmeshError ? e : new FedmeshError('INVALID_ARGUMENT', `malformed agent message: ${quote((e as Error).message, 200)}`);
          log('agent-link-refused', { agent: identity ?? peer.name ?? '?', code: err.code, reason: quote(err.message, 300) });
          fail(err);
          if (identity !== undefined && session !== undefined) coordinator.agentDetached(identity, session);
        }
      });
      const gone = (): void => {
        clearTimeout(regTimer);
        chunks.clear();
        if (identity !== undefined && session !== undefined) coordinator.agentDetached(identity, session);
      };
      call.on('end', gone);
      call.on('cancelled', gone);
      call.on('error', gone);
      call.on('close', gone);
    },
  });

  const creds = insecure ? grpc.ServerCredentials.createInsecure() : serverCredentials(options.tls, options.oidc ? 'optional' : 'required');
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.listen, creds, (err, p) => (err ? reject(err) : resolve(p)));
  });
  health.set('SERVING');
  return {
    port,
    address: `${host}:${port}`,
    health,
    close: () => {
      health.set('NOT_SERVING');
      return shutdownServer(server);
    },
  };
}

/** Exactly one of `product` and `population` names whose budget SetBudget changes. */
function budgetTarget(product: string, population: string): BudgetTarget {
  if (product && population) throw new FedmeshError('INVALID_ARGUMENT', 'population: give either a population or a product, not both', { field: 'population' });
  if (population) return { population };
  if (product) return { product };
  throw new FedmeshError('INVALID_ARGUMENT', 'population: name the population (or one of its products) whose budget to set', { field: 'population' });
}
