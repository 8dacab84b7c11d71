import * as grpc from '@grpc/grpc-js';
import { FedmeshError, quote } from '../../common/errors.js';
import { peerIdentity, serverCredentials } from '../../common/transport/credentials.js';
import { fedmeshV1, SERVER_OPTIONS } from '../../common/transport/proto.js';
import { toGrpcError } from '../../common/transport/status-map.js';
import type { TlsMaterial } from '../../common/tls.js';
import type { Coordinator } from '../coordinator.js';
import { agentToWire, budgetEntryToWire, eventToWire, jobToWire, registrationFromWire, replyFromWire, taskToWire, type WireRegister } from './codec.js';

export interface CoordinatorServerOptions {
  /** HOST:PORT; port 0 lets the OS choose. */
  listen: string;
  tls: TlsMaterial | undefined;
  /** Plaintext, for loopback development only. */
  insecure?: boolean;
}

export interface RunningServer {
  port: number;
  address: string;
  close(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$/;
const REGISTER_TIMEOUT_MS = 10_000;

function splitHostPort(listen: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new RangeError(`--listen must be HOST:PORT, got ${quote(listen)}`);
  const port = Number(m[2]);
  if (port > 65535) throw new RangeError(`--listen port out of range: ${port}`);
  return { host: m[1]!, port };
}

type AnyCall = { getAuthContext?: () => unknown };

interface Caller {
  name: string;
  isAdmin: boolean;
}

/** Researchers (and administrators) are known by their client certificate: CN = name, OU = role. */
function callerOf(call: AnyCall, insecure: boolean): Caller {
  if (insecure) return { name: 'insecure-dev', isAdmin: false };
  const id = peerIdentity(call as never);
  if (!id.name || (id.role !== 'researcher' && id.role !== 'admin')) {
    throw new FedmeshError('UNAUTHENTICATED', 'a researcher or administrator client certificate is required for this call');
  }
  return { name: id.name, isAdmin: id.role === 'admin' };
}

function researcherOf(call: AnyCall, insecure: boolean): string {
  return callerOf(call, insecure).name;
}

function unary<Req, Res>(insecure: boolean, fn: (caller: Caller, req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    let caller: Caller;
    try {
      caller = callerOf(call as AnyCall, insecure);
    } catch (e) {
      callback(toGrpcError(e) as grpc.ServiceError);
      return;
    }
    fn(caller, call.request).then(
      (res) => callback(null, res),
      (e: unknown) => callback(toGrpcError(e) as grpc.ServiceError),
    );
  };
}

/** Serves the researcher API and the agent link on one port, with mutual TLS unless `insecure`. */
export async function startCoordinatorServer(coordinator: Coordinator, options: CoordinatorServerOptions): Promise<RunningServer> {
  const { host } = splitHostPort(options.listen);
  const insecure = options.insecure === true;
  if (insecure && !LOOPBACK.test(host)) throw new RangeError('--insecure is for loopback development only: listen on 127.0.0.1 or localhost');
  if (!insecure && !options.tls) throw new RangeError('TLS material is required unless --insecure');
  const v1 = fedmeshV1();
  const server = new grpc.Server(SERVER_OPTIONS);

  server.addService(v1.Coordinator!.service, {
    submitJob: unary<{ specJson: string }, unknown>(insecure, async (caller, req) => {
      if (caller.isAdmin) throw new FedmeshError('POLICY_DENIED', 'administrator certificates cannot submit jobs; use a researcher certificate');
      return jobToWire(await coordinator.submitJob(caller.name, req.specJson));
    }),
    getBudget: unary<{ researcher: string }, unknown>(insecure, async (caller, req) => ({
      entries: (await coordinator.budgetReport(caller.name, caller.isAdmin, req.researcher || undefined)).map(budgetEntryToWire),
      defaultEpsilon: coordinator.options.defaultBudget.epsilon,
      defaultDelta: coordinator.options.defaultBudget.delta,
    })),
    setBudget: unary<{ researcher: string; product: string; epsilon: number; delta: number }, unknown>(insecure, async (caller, req) =>
      budgetEntryToWire(await coordinator.setBudget(caller.name, caller.isAdmin, req.researcher, req.product, { epsilon: req.epsilon, delta: req.delta })),
    ),
    getJob: unary<{ jobId: string }, unknown>(insecure, async (_r, req) => jobToWire(await coordinator.getJob(req.jobId))),
    listJobs: unary<{ limit: number }, unknown>(insecure, async (_r, req) => ({ jobs: (await coordinator.listJobs(req.limit || 50)).map((j) => jobToWire(j, false)) })),
    listAgents: unary<unknown, unknown>(insecure, async () => ({ agents: coordinator.listAgents().map(agentToWire) })),
    watchJob: (call: grpc.ServerWritableStream<{ jobId: string }, unknown>) => {
      try {
        researcherOf(call as AnyCall, insecure);
      } catch (e) {
        call.emit('error', toGrpcError(e));
        return;
      }
      let unsubscribe: (() => void) | undefined;
      call.on('cancelled', () => unsubscribe?.());
      coordinator
        .watchJob(call.request.jobId, (e, job) => {
          call.write(eventToWire(e, job));
          if (e.type === 'finished') call.end();
        })
        .then(
          (u) => {
            unsubscribe = u;
          },
          (e: unknown) => call.emit('error', toGrpcError(e)),
        );
    },
  });

  server.addService(v1.AgentLink!.service, {
    connect: (call: grpc.ServerDuplexStream<Record<string, unknown>, unknown>) => {
      const peer = peerIdentity(call as never);
      let identity: string | undefined;
      let session: number | undefined;
      const fail = (e: FedmeshError): void => {
        call.emit('error', toGrpcError(e));
      };
      if (!insecure && (!peer.name || peer.role !== 'agent')) {
        fail(new FedmeshError('UNAUTHENTICATED', 'an agent client certificate is required on the agent link'));
        return;
      }
      const regTimer = setTimeout(() => {
        if (session === undefined) fail(new FedmeshError('FAILED_PRECONDITION', 'the first message on the agent link must be register'));
      }, REGISTER_TIMEOUT_MS);
      call.on('data', (msg: Record<string, unknown>) => {
        try {
          if (session === undefined) {
            if (!msg.register) throw new FedmeshError('FAILED_PRECONDITION', 'the first message on the agent link must be register');
            const reg = registrationFromWire(msg.register as WireRegister);
            if (!/^[A-Za-z0-9_.-]{1,64}$/.test(reg.name)) throw new FedmeshError('INVALID_ARGUMENT', `register.name is not a valid agent name: ${quote(reg.name)}`);
            if (!insecure && reg.name !== peer.name) {
              throw new FedmeshError('POLICY_DENIED', `agent claims name ${reg.name} but its certificate is issued to ${peer.name}`);
            }
            identity = insecure ? reg.name : peer.name!;
            clearTimeout(regTimer);
            session = coordinator.agentAttached(identity, reg, (t) => call.write(taskToWire(t)), () => call.end(), (taskId) => call.write({ cancel: { taskId } }));
            call.write({ registered: { agentId: identity, heartbeatIntervalMs: coordinator.options.heartbeatIntervalMs } });
            return;
          }
          if (msg.heartbeat) {
            coordinator.agentHeartbeat(identity!, session);
            return;
          }
          const reply = replyFromWire(msg as never);
          if (reply) {
            coordinator.agentHeartbeat(identity!, session);
            coordinator.agentReply(identity!, session, reply);
          }
        } catch (e) {
          fail(e instanceof FedmeshError ? e : new FedmeshError('INVALID_ARGUMENT', `malformed agent message: ${(e as Error).message}`));
          if (identity !== undefined && session !== undefined) coordinator.agentDetached(identity, session);
        }
      });
      const gone = (): void => {
        clearTimeout(regTimer);
        if (identity !== undefined && session !== undefined) coordinator.agentDetached(identity, session);
      };
      call.on('end', gone);
      call.on('cancelled', gone);
      call.on('error', gone);
      call.on('close', gone);
    },
  });

  const creds = insecure ? grpc.ServerCredentials.createInsecure() : serverCredentials(options.tls);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.listen, creds, (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    port,
    address: `${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      }),
  };
}
