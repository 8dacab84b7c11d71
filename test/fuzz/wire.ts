import * as grpc from '@grpc/grpc-js';
import { clientCredentials, clientChannelOptions, fedmeshV1 } from '../../common/transport/index.js';
import { loadTlsMaterial, type Role } from '../../common/tls.js';

/**
 * Raw gRPC access for the fuzzer: the generated-proto clients (so a request can carry any field values) and a
 * bytes-in/bytes-out client (so a request can be any bytes at all). Every call has a deadline; the outcome is
 * the status as the wire gave it, never translated, so the fuzzer sees exactly what a caller would.
 */
export const COORDINATOR_METHODS = ['SubmitJob', 'GetJob', 'WatchJob', 'ListJobs', 'ListAgents', 'GetBudget', 'SetBudget'] as const;
export type CoordinatorMethod = (typeof COORDINATOR_METHODS)[number];

/** A request the client could not even encode (never sent). */
export const UNSENDABLE = -1;

export interface CallOutcome {
  /** The gRPC status code, or UNSENDABLE. */
  code: number;
  details: string;
  /** The fedmesh error code from the status metadata; absent when the status did not come from fedmesh's handlers. */
  fedmeshCode: string | undefined;
  ms: number;
  /** Messages received (WatchJob). */
  messages: number;
  response?: unknown;
}

type Callback = (err: grpc.ServiceError | null, res?: unknown) => void;
type UnaryFn = (req: unknown, meta: grpc.Metadata, opts: grpc.CallOptions, cb: Callback) => grpc.ClientUnaryCall;
type StreamFn = (req: unknown, meta: grpc.Metadata, opts: grpc.CallOptions) => grpc.ClientReadableStream<unknown>;

function lowerFirst(s: string): string {
  return s[0]!.toLowerCase() + s.slice(1);
}

function fromError(e: grpc.ServiceError | { code?: number; details?: string; metadata?: grpc.Metadata }, t0: number, messages = 0): CallOutcome {
  const code = typeof e.code === 'number' ? e.code : grpc.status.UNKNOWN;
  const fc = e.metadata?.get('fedmesh-code')[0];
  return { code, details: e.details ?? '', fedmeshCode: typeof fc === 'string' ? fc : undefined, ms: Date.now() - t0, messages };
}

export class WireClient {
  private readonly typed: grpc.Client & Record<string, UnaryFn | StreamFn>;
  private readonly raw: grpc.Client & Record<string, (req: Buffer, meta: grpc.Metadata, opts: grpc.CallOptions, cb: Callback) => grpc.ClientUnaryCall>;
  readonly agentLink: grpc.Client & { connect: (meta?: grpc.Metadata, opts?: grpc.CallOptions) => grpc.ClientDuplexStream<unknown, Record<string, unknown>> };

  constructor(address: string, tlsDir: string, role: Role, name: string) {
    const tls = loadTlsMaterial(tlsDir, role, name);
    const creds = clientCredentials(tls);
    const opts = clientChannelOptions(address, true);
    const v1 = fedmeshV1();
    this.typed = new v1.Coordinator!(address, creds, opts) as never;
    const rawDef: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
    for (const m of COORDINATOR_METHODS) {
      rawDef[lowerFirst(m)] = {
        path: `/fedmesh.v1.Coordinator/${m}`,
        requestStream: false,
        responseStream: m === 'WatchJob',
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      };
    }
    const RawCtor = grpc.makeGenericClientConstructor(rawDef as grpc.ServiceDefinition, 'RawCoordinator');
    this.raw = new RawCtor(address, creds, opts) as never;
    this.agentLink = new v1.AgentLink!(address, creds, opts) as never;
  }

  /** A unary call with typed fields (proto-loader encodes them; wrong types fail at the client and are not sent). */
  unary(method: Exclude<CoordinatorMethod, 'WatchJob'>, req: unknown, deadlineMs: number): Promise<CallOutcome> {
    const t0 = Date.now();
    return new Promise((resolve) => {
      try {
        (this.typed[lowerFirst(method)] as UnaryFn).call(this.typed, req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) =>
          resolve(err ? fromError(err, t0) : { code: grpc.status.OK, details: '', fedmeshCode: undefined, ms: Date.now() - t0, messages: 1, response: res }),
        );
      } catch (e) {
        resolve({ code: UNSENDABLE, details: `client could not encode: ${(e as Error).message}`, fedmeshCode: undefined, ms: 0, messages: 0 });
      }
    });
  }

  /** Any bytes as the request of `method`. */
  rawUnary(method: CoordinatorMethod, bytes: Uint8Array, deadlineMs: number): Promise<CallOutcome> {
    const t0 = Date.now();
    return new Promise((resolve) => {
      const fn = this.raw[lowerFirst(method)]!;
      if (method === 'WatchJob') {
        const stream = (fn as unknown as (req: Buffer, meta: grpc.Metadata, opts: grpc.CallOptions) => grpc.ClientReadableStream<Buffer>).call(this.raw, Buffer.from(bytes), new grpc.Metadata(), { deadline: Date.now() + deadlineMs });
        this.collect(stream, t0, resolve);
        return;
      }
      fn.call(this.raw, Buffer.from(bytes), new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err) =>
        resolve(err ? fromError(err, t0) : { code: grpc.status.OK, details: '', fedmeshCode: undefined, ms: Date.now() - t0, messages: 1 }),
      );
    });
  }

  /** WatchJob until the stream ends or the deadline passes. */
  watch(req: unknown, deadlineMs: number): Promise<CallOutcome> {
    const t0 = Date.now();
    return new Promise((resolve) => {
      const stream = (this.typed.watchJob as StreamFn).call(this.typed, req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs });
      this.collect(stream, t0, resolve);
    });
  }

  private collect(stream: grpc.ClientReadableStream<unknown>, t0: number, resolve: (o: CallOutcome) => void): void {
    let messages = 0;
    let done = false;
    stream.on('data', () => {
      messages++;
    });
    stream.on('error', (e: grpc.ServiceError) => {
      if (done) return;
      done = true;
      resolve(fromError(e, t0, messages));
    });
    stream.on('status', (s: grpc.StatusObject) => {
      if (done || s.code !== grpc.status.OK) return;
      done = true;
      resolve({ code: grpc.status.OK, details: '', fedmeshCode: undefined, ms: Date.now() - t0, messages });
    });
  }

  close(): void {
    this.typed.close();
    this.raw.close();
    this.agentLink.close();
  }
}
