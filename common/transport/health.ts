import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, service as healthService } from 'grpc-health-check';
import { shutdownServer } from './shutdown.js';

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

/**
 * The standard gRPC health service (grpc.health.v1.Health) for one server process. The overall status ('') and
 * the process's own service name move together: both are SERVING or both NOT_SERVING.
 */
export class HealthReporter {
  private readonly impl: HealthImplementation;
  private current: ServingStatus = 'NOT_SERVING';

  constructor(readonly serviceName: string) {
    this.impl = new HealthImplementation({ '': 'NOT_SERVING', [serviceName]: 'NOT_SERVING' });
  }

  get status(): ServingStatus {
    return this.current;
  }

  set(status: ServingStatus): void {
    this.current = status;
    this.impl.setStatus('', status);
    this.impl.setStatus(this.serviceName, status);
  }

  addToServer(server: grpc.Server): void {
    this.impl.addToServer(server);
  }
}

export interface RunningHealthServer {
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}

/**
 * A plaintext server carrying only the health service, for probes that cannot present a client certificate
 * (Kubernetes gRPC probes, Docker HEALTHCHECK). It answers nothing but SERVING / NOT_SERVING.
 */
export async function startHealthServer(listen: string, health: HealthReporter): Promise<RunningHealthServer> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 4096, 'grpc.max_concurrent_streams': 16 });
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  const host = listen.slice(0, listen.lastIndexOf(':'));
  return {
    port,
    address: `${host}:${port}`,
    close: () => shutdownServer(server),
  };
}

type HealthClient = grpc.Client & {
  check(req: { service: string }, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
};

/**
 * Asks a health service for a status: 'SERVING', 'NOT_SERVING', 'UNKNOWN', or 'SERVICE_UNKNOWN'.
 * @throws Error (with the gRPC code) when the server cannot be reached within `timeoutMs`
 */
export async function checkHealth(address: string, options: { service?: string; credentials?: grpc.ChannelCredentials; channelOptions?: grpc.ChannelOptions; timeoutMs?: number } = {}): Promise<string> {
  const Ctor = grpc.makeClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'Health');
  const client = new Ctor(address, options.credentials ?? grpc.credentials.createInsecure(), options.channelOptions ?? {}) as unknown as HealthClient;
  try {
    return await new Promise<string>((resolve, reject) => {
      client.check({ service: options.service ?? '' }, { deadline: Date.now() + (options.timeoutMs ?? 3000) }, (err, res) => {
        if (err && err.code === grpc.status.NOT_FOUND) resolve('SERVICE_UNKNOWN');
        else if (err) reject(err);
        else resolve(res?.status ?? 'UNKNOWN');
      });
    });
  } finally {
    client.close();
  }
}
