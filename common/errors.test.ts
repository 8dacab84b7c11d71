import { describe, expect, it } from 'vitest';
import { FedmeshError, MAX_ECHO_CHARS, quote } from './errors.js';
import { MAX_STATUS_MESSAGE_CHARS, toGrpcError } from './transport/status-map.js';

describe('quote', () => {
  it('echoes short values as JSON', () => {
    expect(quote('person')).toBe('"person"');
    expect(quote(3)).toBe('3');
    expect(quote(undefined)).toBe('undefined');
    expect(quote(12n)).toBe('12n');
  });
  it('cuts long values and states their length', () => {
    const long = 'x'.repeat(100_000);
    const q = quote(long);
    expect(q.length).toBeLessThan(MAX_ECHO_CHARS + 40);
    expect(q).toContain('100002 characters');
  });
  it('survives values JSON cannot print', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(quote(cyclic)).toBe('[object Object]');
  });
});

describe('toGrpcError', () => {
  it('caps the status message whatever the thrower wrote', () => {
    const e = toGrpcError(new FedmeshError('INVALID_JOB', 'y'.repeat(200_000)));
    expect(e.details.length).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_CHARS + 60);
  });
  it('turns unknown errors into INTERNAL with no details', () => {
    const e = toGrpcError(new Error('secret row value 42'));
    expect(e.details).toBe('internal error');
  });
});
