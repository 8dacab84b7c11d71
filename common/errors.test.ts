import { describe, expect, it } from 'vitest';
import { FedmeshError, MAX_ECHO_CHARS, quote } from './errors.js';
import { MAX_STATUS_MESSAGE_CHARS, toGrpcError } from './transport/index.js';

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
  it('never hands grpc-js a message encodeURI throws on (a lone surrogate crashed the coordinator)', () => {
    const lone = toGrpcError(new FedmeshError('INVALID_JOB', `where[0].\uD800x: unknown key`));
    expect(() => encodeURI(lone.details)).not.toThrow();
    // A cut that falls inside a surrogate pair leaves no half behind either.
    const split = toGrpcError(new FedmeshError('INVALID_JOB', `${'a'.repeat(MAX_STATUS_MESSAGE_CHARS - 1)}\u{1F600}`));
    expect(() => encodeURI(split.details)).not.toThrow();
    // A well-formed pair is kept.
    expect(toGrpcError(new FedmeshError('INVALID_JOB', 'ok \u{1F600}')).details).toBe('ok \u{1F600}');
  });
  it('turns unknown errors into INTERNAL with no details', () => {
    const e = toGrpcError(new Error('secret row value 42'));
    expect(e.details).toBe('internal error');
  });
});
