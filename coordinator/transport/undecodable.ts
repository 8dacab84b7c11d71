import type * as grpc from '@grpc/grpc-js';

/**
 * grpc-js answers a request it cannot deserialize with a hard-coded INTERNAL status. A request that is not a
 * protobuf message is the caller's fault, not ours, so each method's deserializer is wrapped: on failure it yields
 * this marker instead of throwing, and the handlers answer INVALID_ARGUMENT.
 */
const UNDECODABLE = Symbol('fedmesh.undecodable');

export function isUndecodable(request: unknown): boolean {
  return typeof request === 'object' && request !== null && UNDECODABLE in request;
}

/** A copy of a service definition whose request deserializers never throw. */
export function withTolerantDeserializers(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(service)) {
    const deserialize = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return deserialize(bytes);
        } catch {
          return { [UNDECODABLE]: true };
        }
      },
    };
  }
  return out as grpc.ServiceDefinition;
}
