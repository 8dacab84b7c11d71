import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

function findProtosDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'protos');
    if (existsSync(join(candidate, 'fedmesh', 'v1', 'agent.proto'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('fedmesh: cannot find the protos/ folder next to the installed code');
}

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

let cached: grpc.GrpcObject | undefined;

/** Loads the wire contract once per process. Only transport code may call this. */
export function loadFedmeshProtos(): grpc.GrpcObject {
  if (cached) return cached;
  const includeDir = findProtosDir();
  const def = protoLoader.loadSync(['fedmesh/v1/coordinator.proto', 'fedmesh/v1/agent.proto'], {
    ...PROTO_LOADER_OPTIONS,
    includeDirs: [includeDir],
  });
  cached = grpc.loadPackageDefinition(def);
  return cached;
}

export function fedmeshV1(): Record<string, grpc.ServiceClientConstructor> {
  const root = loadFedmeshProtos() as unknown as { fedmesh: { v1: Record<string, grpc.ServiceClientConstructor> } };
  return root.fedmesh.v1;
}

/** Message-size limits: large enough for HE ciphertext batches, small enough to bound memory per call. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
};

export const SERVER_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 5_000,
};

/**
 * Channel options for a client of `address`. Development certificates name the coordinator `localhost`; when
 * dialling a loopback IP we verify against that name instead of sending an IP as TLS server name (RFC 6066).
 */
export function clientChannelOptions(address: string, secure: boolean): grpc.ChannelOptions {
  const host = address.replace(/:\d+$/, '');
  if (secure && /^(\d+\.\d+\.\d+\.\d+|\[[0-9a-fA-F:]+\])$/.test(host)) {
    return { ...CHANNEL_OPTIONS, 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' };
  }
  return CHANNEL_OPTIONS;
}
