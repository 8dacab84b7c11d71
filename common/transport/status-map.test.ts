import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { FedmeshError, type FedmeshErrorCode } from '../errors.js';
import { fromGrpcError, toGrpcError } from './status-map.js';

const ALL_CODES: FedmeshErrorCode[] = [
  'INVALID_JOB', 'INVALID_ARGUMENT', 'NOT_FOUND', 'POLICY_DENIED', 'UNAUTHENTICATED', 'BUDGET_EXHAUSTED', 'AGENT_UNAVAILABLE', 'QUORUM_NOT_MET',
  'ROUND_TIMEOUT', 'ALREADY_EXISTS', 'FAILED_PRECONDITION', 'CANCELLED', 'INTERNAL', 'RESOURCE_EXHAUSTED', 'MESSAGE_TOO_LARGE', 'COORDINATOR_UNAVAILABLE',
];

/** A status as grpc-js hands it to a client callback. */
function received(code: grpc.status, details: string, metadata = new grpc.Metadata()): grpc.ServiceError {
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata });
}

describe('status mapping, server to client and back', () => {
  it.each(ALL_CODES)('%s survives the round trip with its field', (code) => {
    const sent = toGrpcError(new FedmeshError(code, `m ${code}`, { field: 'f.x' }));
    const back = fromGrpcError(received(sent.code, sent.details, sent.metadata));
    expect(back.code).toBe(code);
    expect(back.field).toBe('f.x');
    expect(back.message).toBe(`m ${code}`);
  });

  it('server-side codes map to the documented gRPC statuses', () => {
    const status = (c: FedmeshErrorCode): string => grpc.status[toGrpcError(new FedmeshError(c, 'x')).code]!;
    expect(status('BUDGET_EXHAUSTED')).toBe('RESOURCE_EXHAUSTED');
    expect(status('RESOURCE_EXHAUSTED')).toBe('RESOURCE_EXHAUSTED');
    expect(status('INVALID_JOB')).toBe('INVALID_ARGUMENT');
    expect(status('POLICY_DENIED')).toBe('PERMISSION_DENIED');
    expect(status('COORDINATOR_UNAVAILABLE')).toBe('UNAVAILABLE');
  });

  it('a transport RESOURCE_EXHAUSTED (message size) is never a budget error', () => {
    for (const d of ['Sent message larger than max (72000000 vs. 67108864)', 'Received message larger than max (72000000 vs. 67108864)']) {
      const e = fromGrpcError(received(grpc.status.RESOURCE_EXHAUSTED, d));
      expect(e.code).toBe('MESSAGE_TOO_LARGE');
      expect(e.message).toMatch(/size limit \(not a privacy budget\)/);
      expect(e.message).toContain(d);
    }
    expect(fromGrpcError(received(grpc.status.RESOURCE_EXHAUSTED, 'Too many pings')).code).toBe('RESOURCE_EXHAUSTED');
  });

  it('BUDGET_EXHAUSTED only when the server said so', () => {
    const meta = new grpc.Metadata();
    meta.set('fedmesh-code', 'BUDGET_EXHAUSTED');
    expect(fromGrpcError(received(grpc.status.RESOURCE_EXHAUSTED, 'budget of alice on person exhausted', meta)).code).toBe('BUDGET_EXHAUSTED');
  });

  it('UNAVAILABLE without server metadata is the coordinator being unreachable, not an agent', () => {
    const e = fromGrpcError(received(grpc.status.UNAVAILABLE, 'No connection established'));
    expect(e.code).toBe('COORDINATOR_UNAVAILABLE');
    expect(e.retryable).toBe(true);
    expect(e.message).toMatch(/^coordinator unreachable or TLS handshake refused/);
    const meta = new grpc.Metadata();
    meta.set('fedmesh-code', 'AGENT_UNAVAILABLE');
    expect(fromGrpcError(received(grpc.status.UNAVAILABLE, 'agent a1 is not connected', meta)).code).toBe('AGENT_UNAVAILABLE');
  });

  it('metadata that is unknown or contradicts the status is not believed', () => {
    const bogus = new grpc.Metadata();
    bogus.set('fedmesh-code', 'NOT_A_CODE');
    expect(fromGrpcError(received(grpc.status.INVALID_ARGUMENT, 'x', bogus)).code).toBe('INVALID_ARGUMENT');
    const lying = new grpc.Metadata();
    lying.set('fedmesh-code', 'BUDGET_EXHAUSTED');
    expect(fromGrpcError(received(grpc.status.UNAVAILABLE, 'x', lying)).code).toBe('COORDINATOR_UNAVAILABLE');
  });

  it('a field that is not ASCII (a caller\'s column name) still makes a status, never a throw that leaves the call hanging', () => {
    const sent = toGrpcError(new FedmeshError('INVALID_JOB', 'bad', { field: `groupKeys.länge×${'z'.repeat(1000)}` }));
    expect(sent.code).toBe(grpc.status.INVALID_ARGUMENT);
    const field = String(sent.metadata!.get('fedmesh-field')[0]);
    expect(field.startsWith('groupKeys.l?nge?zzz')).toBe(true);
    expect(field.length).toBeLessThanOrEqual(260);
  });

  it('non-gRPC errors become INTERNAL on the client', () => {
    expect(fromGrpcError(new Error('boom')).code).toBe('INTERNAL');
  });
});
