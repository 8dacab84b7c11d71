import { describe, expect, it } from 'vitest';
import { describeConnectionError } from '../../client/sdk/transport/connection-errors.js';
import { EXIT, exitCodeFor, exitCodeForJob } from '../../client/sdk/exit-codes.js';
import { flagFor, jobFromFlagsWithOrigins, parseWhere } from '../../client/cli/job-from-flags.js';
import { FedmeshError } from '../../common/errors.js';
import { closestNames, didYouMean, editDistance } from '../../common/suggest.js';

describe('did-you-mean (issue 14 #11)', () => {
  it('finds the closest product or column, and nothing when nothing is close', () => {
    const products = ['person', 'measurement', 'condition_occurrence', 'drug_exposure'];
    expect(didYouMean('persn', products)).toBe(' (did you mean "person"?)');
    expect(didYouMean('Person', products)).toBe(' (did you mean "person"?)');
    expect(didYouMean('mesaurement', products)).toBe(' (did you mean "measurement"?)');
    expect(didYouMean('visit', products)).toBe('');
    expect(didYouMean('person', products)).toBe('');
    expect(closestNames('year_of_brith', ['year_of_birth', 'month_of_birth'])).toEqual(['year_of_birth']);
    expect(editDistance('ab', 'ba')).toBe(1);
  });
  it('is bounded for hostile input', () => {
    const long = 'x'.repeat(1_000_000);
    expect(editDistance(long, long.slice(1))).toBe(0); // compared on 64 characters only
    expect(didYouMean(long, Array.from({ length: 20_000 }, (_, i) => `c${i}`))).toBe('');
  });
});

describe('--where does not read `=>` as `=`', () => {
  it('rejects an operator character left in the value, suggesting the operator meant', () => {
    expect(() => parseWhere('year_of_birth=>1950')).toThrow(/"=>" is not an operator \(did you mean ">="\?\)/);
    expect(() => parseWhere('year_of_birth =< 1950')).toThrow(/did you mean "<="/);
    expect(() => parseWhere('x==1')).toThrow(/did you mean "="/);
    // The operators that exist still parse.
    expect(parseWhere('year_of_birth>=1950')).toEqual({ column: 'year_of_birth', op: '>=', value: 1950 });
    expect(parseWhere("x = '>5'")).toEqual({ column: 'x', op: '=', value: '>5' });
  });
});

describe('flag names in messages of flag-built jobs', () => {
  it('records which flag built which field and finds it for nested fields', () => {
    const { job, origins } = jobFromFlagsWithOrigins({ product: 'person', count: true, mean: ['year_of_birth:2030:1900'], where: ['x>1'], epsilon: '2' });
    expect((job.measures as unknown[]).length).toBe(2);
    expect(flagFor(origins, 'measures[1].bounds')).toBe('--mean year_of_birth:2030:1900');
    expect(flagFor(origins, 'measures[0]')).toBe('--count');
    expect(flagFor(origins, 'where[0].column')).toBe('--where x>1');
    expect(flagFor(origins, 'privacy.epsilon')).toBe('--epsilon 2');
    expect(flagFor(origins, 'measures[10]')).toBeUndefined();
    expect(flagFor(origins, undefined)).toBeUndefined();
  });
  it('a bound that is not a number names the flag instead of sending NaN', () => {
    expect(() => jobFromFlagsWithOrigins({ product: 'p', mean: ['bmi:0:abc'] })).toThrow('--mean bmi:0:abc: UPPER: not a number: "abc"');
    expect(() => jobFromFlagsWithOrigins({ product: 'p', histogram: ['bmi:0,,5'] })).toThrow(/--histogram bmi:0,,5: edge: not a number/);
  });
});

describe('exit codes', () => {
  it('map errors by what went wrong', () => {
    expect(exitCodeFor(new FedmeshError('INVALID_JOB', 'x'))).toBe(EXIT.USAGE);
    expect(exitCodeFor(new RangeError('x'))).toBe(EXIT.USAGE);
    expect(exitCodeFor(new FedmeshError('COORDINATOR_UNAVAILABLE', 'x'))).toBe(EXIT.CONNECTION);
    expect(exitCodeFor(new FedmeshError('UNAUTHENTICATED', 'x'))).toBe(EXIT.CONNECTION);
    expect(exitCodeFor(new FedmeshError('BUDGET_EXHAUSTED', 'x'))).toBe(EXIT.REFUSED);
    expect(exitCodeFor(new FedmeshError('POLICY_DENIED', 'x'))).toBe(EXIT.REFUSED);
    expect(exitCodeFor(new FedmeshError('INTERNAL', 'x'))).toBe(EXIT.FAILED);
    expect(exitCodeFor(new Error('x'))).toBe(EXIT.FAILED);
    expect(exitCodeForJob({ state: 'succeeded' })).toBe(0);
    expect(exitCodeForJob({ state: 'failed', error: { code: 'QUORUM_NOT_MET' } })).toBe(1);
    expect(exitCodeForJob({ state: 'failed', error: { code: 'BUDGET_EXHAUSTED' } })).toBe(4);
    expect([EXIT.OK, EXIT.FAILED, EXIT.USAGE, EXIT.CONNECTION, EXIT.REFUSED]).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('connection errors say what failed', () => {
  const unavailable = (m: string): FedmeshError => new FedmeshError('COORDINATOR_UNAVAILABLE', `coordinator unreachable or TLS handshake refused: ${m}`);
  const tls = { address: 'h:7443', caPath: 'tls/ca.crt', certPath: 'tls/researcher-alice.crt' };
  it('unreachable: names the address, drops grpc-js noise', () => {
    const e = describeConnectionError(unavailable('No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: '), { address: '127.0.0.1:1' });
    expect(e.message).toBe('cannot reach coordinator at 127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1. (is it running and listening there?)');
    expect(e.message).not.toMatch(/Resolution note|AGENT_UNAVAILABLE/);
  });
  it("wrong CA: names the coordinator's certificate and the CA file", () => {
    const e = describeConnectionError(unavailable('No connection established. Last error: Error: self-signed certificate in certificate chain. Resolution note: '), tls);
    expect(e.message).toMatch(/^TLS: the coordinator's certificate at h:7443 failed verification against the CA tls\/ca\.crt: self-signed certificate in certificate chain/);
  });
  it('our certificate refused: names our certificate file', () => {
    const e = describeConnectionError(unavailable('No connection established. Last error: Failed to connect (2026-12-04T03:43:43.044Z). Resolution note: '), tls);
    expect(e.message).toMatch(/did not accept this client's certificate tls\/researcher-alice\.crt/);
  });
  it('leaves other errors alone', () => {
    const e = new FedmeshError('BUDGET_EXHAUSTED', 'no');
    expect(describeConnectionError(e, tls)).toBe(e);
  });
});

describe('fedmesh agent --stream-rows / --stream-rows-above', () => {
  it('parses one of them and names what is wrong with a bad value or both', async () => {
    const { parseStreamRows } = await import('../../client/cli/commands/servers.js');
    expect(parseStreamRows({})).toBeUndefined();
    expect(parseStreamRows({ streamRows: true })).toBe(true);
    expect(parseStreamRows({ streamRowsAbove: '1000' })).toEqual({ aboveRows: 1000 });
    expect(parseStreamRows({ streamRowsAbove: '0' })).toEqual({ aboveRows: 0 });
    for (const bad of ['-1', '1e6', '2.5', 'many', '', '99999999999999999999']) {
      expect(() => parseStreamRows({ streamRowsAbove: bad })).toThrow(/--stream-rows-above must be a non-negative integer/);
    }
    expect(() => parseStreamRows({ streamRows: true, streamRowsAbove: '5' })).toThrow(/give one/);
  });
});

describe('AgentOptions.streamRows', () => {
  it('takes a boolean or { aboveRows } with a non-negative integer, and names the option otherwise', async () => {
    const { checkStreamRows, DEFAULT_STREAM_ROWS_ABOVE } = await import('../../node-agent/agent.js');
    expect(checkStreamRows(undefined)).toEqual({ aboveRows: DEFAULT_STREAM_ROWS_ABOVE });
    expect(checkStreamRows(true)).toBe(true);
    expect(checkStreamRows({ aboveRows: 0 })).toEqual({ aboveRows: 0 });
    for (const bad of [{ aboveRows: 1.5 }, { aboveRows: -1 }, { aboveRows: Number.NaN }, null, {}]) {
      expect(() => checkStreamRows(bad as never)).toThrow(/^streamRows: must be true, false or \{ aboveRows: a non-negative integer \}/);
    }
  });
});
