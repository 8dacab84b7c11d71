import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { goldenDiff, toGoldenValue } from './golden-compare.js';
import { GoldenFile, RECORDING } from './golden-file.js';
import { goldenView } from './golden-mesh.js';
import type { JobView } from '../../client/sdk/types.js';

/** The next double above x (x finite, ≥ 0): one unit in the last place. */
function nextUp(x: number): number {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x);
  v.setBigUint64(0, v.getBigUint64(0) + 1n);
  return v.getFloat64(0);
}

/** Stored the way a golden file stores it: through JSON text. */
const stored = (v: unknown): unknown => JSON.parse(JSON.stringify(toGoldenValue(v)));

const result = { columns: ['gender', 'count', 'mean'], rows: [{ gender: 8507, count: 589, mean: 1973.4923599320882, ci95: [0.1 + 0.2, 5e-324] }], privacy: { mode: 'none', exact: true } };

describe('golden comparator', () => {
  it('an identical result, stored through JSON, has no difference (doubles round-trip exactly)', () => {
    expect(goldenDiff(stored(result), toGoldenValue(structuredClone(result)))).toEqual([]);
    const edge = [Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 + 2, -1.5e-300, 0.1 + 0.2];
    expect(goldenDiff(stored(edge), toGoldenValue(edge))).toEqual([]);
  });

  it('negative control: a 1-ulp change of one number is a difference, named by its path', () => {
    const perturbed = structuredClone(result);
    perturbed.rows[0]!.mean = nextUp(perturbed.rows[0]!.mean);
    expect(perturbed.rows[0]!.mean).not.toBe(result.rows[0]!.mean);
    expect(goldenDiff(stored(result), toGoldenValue(perturbed))).toEqual(['$.rows[0].mean: expected 1973.4923599320882, got 1973.4923599320884 (1 ulp)']);
    const tiny = structuredClone(result);
    tiny.rows[0]!.ci95[1] = nextUp(5e-324);
    expect(goldenDiff(stored(result), toGoldenValue(tiny))).toHaveLength(1);
  });

  it('negative control: a reordered key, a reordered array and a missing or extra key are differences', () => {
    const { gender, count, ...rest } = result.rows[0]!;
    const reordered = { ...result, rows: [{ count, gender, ...rest }] };
    expect(goldenDiff(stored(result), toGoldenValue(reordered))).toEqual(['$.rows[0]: keys in another order: expected gender, count, mean, ci95; got count, gender, mean, ci95']);
    const swapped = { ...result, columns: ['count', 'gender', 'mean'] };
    expect(goldenDiff(stored(result), toGoldenValue(swapped))).toHaveLength(2);
    const { privacy: _p, ...missing } = result;
    expect(goldenDiff(stored(result), toGoldenValue(missing))).toEqual(['$: missing keys privacy']);
    expect(goldenDiff(stored(result), toGoldenValue({ ...result, extra: 1 }))).toEqual(['$: unexpected keys extra']);
  });

  it('negative control: −0 against 0, NaN against null, a number against its string, bigint against number', () => {
    expect(goldenDiff(stored({ x: 0 }), toGoldenValue({ x: -0 }))).toHaveLength(1);
    expect(goldenDiff(stored({ x: null }), toGoldenValue({ x: Number.NaN }))).toHaveLength(1);
    expect(goldenDiff(stored({ x: 1 }), toGoldenValue({ x: '1' }))).toHaveLength(1);
    expect(goldenDiff(stored({ x: 1 }), toGoldenValue({ x: 1n }))).toHaveLength(1);
    // The values JSON cannot hold survive storage, so they compare equal to themselves.
    const odd = { a: -0, b: Number.NaN, c: Number.POSITIVE_INFINITY, d: 10n ** 30n, e: new Uint8Array([1, 2]) };
    expect(goldenDiff(stored(odd), toGoldenValue(odd))).toEqual([]);
  });

  it('stops at the limit so one broken case does not flood the report', () => {
    const many = Array.from({ length: 100 }, (_, i) => i);
    expect(goldenDiff(stored(many), toGoldenValue(many.map((x) => x + 1)), '$', 5)).toHaveLength(5);
  });
});

describe('golden view of a job', () => {
  const job = {
    jobId: 'c0ffee',
    state: 'succeeded',
    kind: 'aggregate',
    researcher: 'researcher',
    createdAtMs: 1,
    finishedAtMs: 2,
    agents: { asked: ['s1'], answered: ['s1'], missing: [] },
    result: { columns: [], rows: [], suppressed: [], privacy: { keyId: 'abc', mode: 'none' }, summary: { secure: { coordinatorMs: 3.2, vectorLength: 4 } }, notes: ['key in /tmp/x/he-1'], agentErrors: {} },
    error: undefined,
    spec: { kind: 'aggregate', timeoutMs: 30000, he: { plan: { n: 8192 }, publicKey: 'AAAA' } },
    resultCiphertexts: new Uint8Array([1]),
  } as unknown as JobView;

  it('drops or marks only what differs by design (id, clock, ciphertexts, HE key, durations, temp folder)', () => {
    expect(goldenView(job, '/tmp/x')).toEqual({
      state: 'succeeded',
      kind: 'aggregate',
      researcher: 'researcher',
      agents: { asked: ['s1'], answered: ['s1'], missing: [] },
      result: { columns: [], rows: [], suppressed: [], privacy: { keyId: '<id of the researcher HE key: fresh per run>', mode: 'none' }, summary: { secure: { coordinatorMs: '<elapsed ms>', vectorLength: 4 } }, notes: ['key in <temp dir>/he-1'], agentErrors: {} },
      spec: { kind: 'aggregate', timeoutMs: 30000, he: { plan: { n: 8192 }, publicKey: '<the researcher HE public key: fresh per run>' } },
    });
  });
});

describe('golden file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-golden-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.skipIf(RECORDING)('fails a missing file, a missing case, changed inputs and a recorded case no test ran', () => {
    expect(new GoldenFile(join(dir, 'absent.json')).checkInputs({ s1: 'x' })[0]).toMatch(/does not exist: record it with FEDMESH_GOLDEN=record/);
    const path = join(dir, 'g.json');
    writeFileSync(path, JSON.stringify({ inputs: { s1: 'aa' }, cases: { one: { v: 1 }, two: { v: 2 } } }));
    const g = new GoldenFile(path);
    expect(g.checkInputs({ s1: 'aa' })).toEqual([]);
    expect(g.checkInputs({ s1: 'bb' })[0]).toMatch(/test data changed/);
    expect(g.check('one', { v: 1 })).toEqual([]);
    expect(g.check('three', { v: 3 })).toEqual([`no recording of case "three" in ${path}`]);
    expect(g.unchecked()).toEqual(['two']);
    expect(() => g.check('one', { v: 1 })).toThrow(/checked twice/);
  });
});
