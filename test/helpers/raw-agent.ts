import type * as grpc from '@grpc/grpc-js';
import { clientCredentials, clientChannelOptions, fedmeshV1, fromGrpcError } from '../../common/transport/index.js';
import { loadTlsMaterial } from '../../common/tls.js';
import type { FedmeshError } from '../../common/errors.js';

/** A wire product as an agent registers it. */
export interface RawProduct {
  name: string;
  columns: { name: string; type: string }[];
  privacyUnit: string;
  description: string;
  metadataJson: string;
}

export interface RawAgent {
  /** Resolves with the coordinator's `registered` reply, or rejects with the refusal. */
  registered: Promise<{ agentId: string }>;
  /** Resolves with the error that ended the stream (if any) once it closes. */
  closed: Promise<FedmeshError | undefined>;
  /** Writes one more AgentMessage on the stream (e.g. a second register). */
  send(msg: Record<string, unknown>): void;
  close(): void;
}

/**
 * Connects to the coordinator's agent link as a (possibly hostile) agent holding `name`'s agent certificate and
 * sends one hand-made Register message over the real mTLS stream — no Agent class, no ingest.
 */
/** A task as it arrives on the wire, and what the fake agent answers (a `result` or `failure` body), if anything. */
export type RawTaskHandler = (task: { taskId: string; jobId: string; kind: string; specJson: string }) => Record<string, unknown> | undefined;

export function connectRawAgent(address: string, tlsDir: string, name: string, products: RawProduct[], extra: Record<string, unknown> = {}, onTask?: RawTaskHandler): RawAgent {
  const tls = loadTlsMaterial(tlsDir, 'agent', name);
  const Ctor = fedmeshV1().AgentLink!;
  const client = new Ctor(address, clientCredentials(tls), clientChannelOptions(address, true)) as unknown as grpc.Client & { connect(): grpc.ClientDuplexStream<unknown, { registered?: { agentId: string } }> };
  const call = client.connect() as unknown as grpc.ClientDuplexStream<unknown, { registered?: { agentId: string }; task?: Parameters<RawTaskHandler>[0] }>;
  let error: FedmeshError | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  const registered = new Promise<{ agentId: string }>((resolve, reject) => {
    call.on('data', (m) => {
      if (m.task && onTask) {
        const reply = onTask(m.task);
        if (reply) call.write(reply);
      }
      if (!m.registered) return;
      // Stay alive like a real agent, at a pace well inside any test's liveness timeout.
      heartbeat = setInterval(() => call.write({ heartbeat: { sentAtMs: String(Date.now()) } }), 100);
      heartbeat.unref();
      resolve(m.registered);
    });
    call.on('error', (e) => {
      error = fromGrpcError(e);
      reject(error);
    });
    call.on('end', () => reject(new Error('stream ended before registration')));
  });
  registered.catch(() => undefined);
  const closed = new Promise<FedmeshError | undefined>((resolve) =>
    call.on('close', () => {
      clearInterval(heartbeat);
      resolve(error);
    }),
  );
  call.write({ register: { name, domain: name, version: 'raw', policyJson: JSON.stringify({ minCellSize: 10, allowModes: ['none'], allowKinds: ['aggregate', 'cohort', 'characterize', 'survival', 'contingency'] }), products, ...extra } });
  return {
    registered,
    closed,
    send(msg) {
      call.write(msg);
    },
    close() {
      clearInterval(heartbeat);
      call.cancel();
      client.close();
    },
  };
}

/** `n` products of `columns` columns with `metadataBytes` of metadata each. */
export function manyProducts(n: number, columns = 4, metadataBytes = 100): RawProduct[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `product_${i}`,
    columns: Array.from({ length: columns }, (_, j) => ({ name: j === 0 ? 'person_id' : `c${j}`, type: 'BIGINT' })),
    privacyUnit: 'person_id',
    description: `synthetic product ${i}`,
    metadataJson: JSON.stringify({ note: 'x'.repeat(Math.max(0, metadataBytes - 11)) }),
  }));
}
