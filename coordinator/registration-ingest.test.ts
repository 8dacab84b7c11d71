/** The ingest status in an agent's registration is validated like the rest of it (issue 14 item 12). */
import { describe, expect, it } from 'vitest';
import { INGEST_STATUS_LIMITS } from '../common/agent-protocol.js';
import { checkRegistrationSize } from './registration-limits.js';
import { ingestStatusFromWire, registrationFromWire, type WireRegister } from './transport/codec.js';

const base: WireRegister = { name: 'a1', domain: 'a1', version: '0.1.0', policyJson: '{}', products: [] };
const notice = { severity: 'warning', source: 'person.csv', message: '<10 duplicate person_id values in table person' };

describe('registration ingest status', () => {
  it('is read into the registration, time and all', () => {
    const reg = registrationFromWire({ ...base, ingest: { state: 'failed', failed: ['omop'], notices: [{ ...notice, severity: 'error' }], omitted: 2, atUnixMs: '1700000000000' } });
    expect(reg.ingest).toEqual({ state: 'failed', failed: ['omop'], notices: [{ ...notice, severity: 'error' }], omitted: 2, atMs: 1700000000000 });
    // An older agent sends none (proto-loader gives null): no status, not an error.
    expect(registrationFromWire({ ...base, ingest: null }).ingest).toBeUndefined();
  });

  it('refuses an unknown state or severity, naming the field', () => {
    expect(() => ingestStatusFromWire({ state: 'fine' })).toThrow(/register\.ingest\.state must be one of ok, warnings, failed/);
    expect(() => ingestStatusFromWire({ state: 'ok', notices: [notice, { ...notice, severity: 'fatal' }] })).toThrow(/register\.ingest\.notices\[1\]\.severity/);
  });

  it('bounds the number and length of notices and failed entries', () => {
    const many = Array.from({ length: INGEST_STATUS_LIMITS.maxNotices + 1 }, () => notice);
    expect(() => checkRegistrationSize({ ...base, ingest: { state: 'warnings', notices: many } })).toThrow(expect.objectContaining({ code: 'RESOURCE_EXHAUSTED', field: 'register.ingest.notices' }));
    expect(() => checkRegistrationSize({ ...base, ingest: { state: 'warnings', notices: many.slice(1) } })).not.toThrow();
    const long = { ...notice, message: 'x'.repeat(INGEST_STATUS_LIMITS.maxMessageChars + 1) };
    expect(() => checkRegistrationSize({ ...base, ingest: { state: 'warnings', notices: [long] } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'register.ingest.notices[0].message' }));
    const failed = Array.from({ length: INGEST_STATUS_LIMITS.maxFailed + 1 }, (_, i) => `f${i}.csv`);
    expect(() => checkRegistrationSize({ ...base, ingest: { state: 'failed', failed } })).toThrow(expect.objectContaining({ code: 'RESOURCE_EXHAUSTED', field: 'register.ingest.failed' }));
  });
});
