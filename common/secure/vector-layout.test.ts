import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GroupPartial } from '../../algorithms/aggregate/index.js';
import type { AggregateJob, CellJob } from '../job/index.js';
import { parseJobSpec, ruleNamesFor } from '../job/index.js';
import { decodeSecureCells, encodeSecureCells, planSecureCells } from './cell-layout.js';
import { heLimbRing, secAggLimbRing, type LimbRing } from './limbs.js';
import { planSecureAggregate, secureThreshold } from './secure-job.js';
import { decodeSecureSum, encodeSecureVector } from './vector-layout.js';

/**
 * Secure layouts in process (issue 9, test pyramid): the public vector every party derives alike, and the algebra the
 * secure sum relies on — agents' vectors add position by position (in Z_2^32 for SecAgg, exactly for HE) to the
 * vector of the summed statistics, whichever agents contribute.
 */
const typeOf = (c: string): string => (c === 'age' ? 'BIGINT' : 'DOUBLE');
const JOB = parseJobSpec({
  kind: 'aggregate',
  product: 'person',
  groupBy: ['sex'],
  groupKeys: { sex: ['f', 'm'] },
  measures: [{ fn: 'count' }, { fn: 'sum', column: 'age', bounds: [0, 100] }, { fn: 'variance', column: 'age', bounds: [0, 100] }, { fn: 'histogram', column: 'age', bins: [0, 50, 100] }],
  privacy: { mode: 'none' },
  secure: 'secagg',
  secureMaxRows: 1000,
}) as AggregateJob;

/** One agent's exact partial of a group from its rows (ages as integers; the plan's integer grid is 1). */
function partial(sex: string, ages: number[]): GroupPartial {
  const n = BigInt(ages.length);
  const sum = ages.reduce((a, x) => a + BigInt(x), 0n);
  const sumSq = ages.reduce((a, x) => a + BigInt(x) * BigInt(x), 0n);
  const moments = { kind: 'moments' as const, n, sum, sumSq, scaleBits: 0, sqScaleBits: 0 };
  return { key: [sex], count: n, measures: [{ kind: 'count' }, moments, { ...moments }, { kind: 'histogram', bins: [BigInt(ages.filter((a) => a < 50).length), BigInt(ages.filter((a) => a >= 50).length)] }], suppressedBy: [] };
}

/** Adds vectors as the secure layer does: mod 2^32 per position for SecAgg, exactly for HE. */
function addVectors(ring: LimbRing, vectors: (Uint32Array | BigInt64Array)[], length: number): (number | bigint)[] {
  return Array.from({ length }, (_, j) => {
    const s = vectors.reduce((a, v) => a + BigInt(v[j]!), 0n);
    return ring.kind === 'secagg' ? Number(s % (1n << 32n)) : s;
  });
}

const agesArb = fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 40 });

describe('secure aggregate layout', () => {
  it('property: the decoded sum of any contributing agents equals the sum of their statistics (SecAgg and HE rings)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 6 }), fc.boolean(), fc.array(fc.tuple(agesArb, agesArb), { minLength: 6, maxLength: 6 }), fc.integer({ min: 0, max: 2 }), (n, secagg, data, dropped) => {
        const ring = secagg ? secAggLimbRing(n) : heLimbRing(20);
        const sp = planSecureAggregate(JOB, typeOf, n, ring);
        const contributors = data.slice(0, n - Math.min(dropped, n - 3));
        const vectors = contributors.map(([f, m]) => encodeSecureVector(sp.layout, [partial('f', f), partial('m', m)], undefined, !secagg));
        const decoded = decodeSecureSum(sp.layout, sp.plan, addVectors(ring, vectors, sp.layout.vectorLength));
        const expected = [partial('f', contributors.flatMap(([f]) => f)), partial('m', contributors.flatMap(([, m]) => m))];
        // The sum measure sends only its sum: n and the sum of squares read as zero there (the release does not use them).
        for (const g of expected) Object.assign(g.measures[1]!, { n: 0n, sumSq: 0n });
        expect(decoded).toEqual(expected);
      }),
      { seed: 909, numRuns: 60 },
    );
  });

  it('every party derives the same layout from public information; a group no agent has decodes as zeros', () => {
    const a = planSecureAggregate(JOB, typeOf, 4, secAggLimbRing(4));
    const b = planSecureAggregate(parseJobSpec(JSON.stringify(JOB)) as AggregateJob, typeOf, 4, secAggLimbRing(4));
    expect(b.layout.vectorLength).toBe(a.layout.vectorLength);
    expect(b.layout.slots).toEqual(a.layout.slots);
    expect([a.threshold, a.requiredContributors]).toEqual([3, 4]);
    const v = encodeSecureVector(a.layout, [partial('f', [30])], undefined, false);
    const zeros = addVectors(a.layout.ring, [v, new Uint32Array(v.length), new Uint32Array(v.length)], v.length);
    expect(decodeSecureSum(a.layout, a.plan, zeros)[1]!.count).toBe(0n);
  });

  it('clips an agent above secureMaxRows to the public cap, silently (the job never fails on a value)', () => {
    const job = { ...JOB, measures: [{ fn: 'count' as const }], secureMaxRows: 10 };
    const sp = planSecureAggregate(job, typeOf, 3, secAggLimbRing(3));
    const big: GroupPartial = { key: ['f'], count: 50n, measures: [{ kind: 'count' }], suppressedBy: [] };
    const v = encodeSecureVector(sp.layout, [big], undefined, false);
    const empty = new Uint32Array(v.length);
    expect(decodeSecureSum(sp.layout, sp.plan, addVectors(sp.layout.ring, [v, empty, empty], v.length))[0]!.count).toBe(10n);
  });

  it('distributed-dp: only noised statistics are sent, each with its share variance; shares add into the total', () => {
    const job = { ...JOB, privacy: { mode: 'distributed-dp' as const, rho: 1 } };
    const sp = planSecureAggregate(job, typeOf, 4, secAggLimbRing(4));
    expect(sp.noise).toBeDefined();
    expect(sp.layout.slots.every((s) => s.shareSigma2 !== undefined)).toBe(true);
    const vectors = [0, 1, 2, 3].map(() => encodeSecureVector(sp.layout, [partial('f', [10, 60])], () => 1n, false));
    const decoded = decodeSecureSum(sp.layout, sp.plan, addVectors(sp.layout.ring, vectors, sp.layout.vectorLength));
    // Four agents, two rows each, plus a share of +1 each: 8 + 4.
    expect(decoded[0]!.count).toBe(12n);
    expect(decoded[1]!.count).toBe(4n);
  });

  it('negative: fewer than 3 agents, a bad threshold or quorum, another mode or a wrong-length sum are refused', () => {
    expect(() => planSecureAggregate(JOB, typeOf, 2, secAggLimbRing(2))).toThrow(expect.objectContaining({ code: 'FAILED_PRECONDITION', field: 'agents' }));
    expect(() => secureThreshold({ secureThreshold: 2 }, 4)).toThrow(expect.objectContaining({ code: 'INVALID_JOB', field: 'secureThreshold' }));
    expect(() => secureThreshold({ secureThreshold: 5 }, 4)).toThrow(expect.objectContaining({ field: 'secureThreshold' }));
    expect(secureThreshold({ secureThreshold: 3 }, 4)).toBe(3);
    expect(() => planSecureAggregate({ ...JOB, quorum: 5 }, typeOf, 4, secAggLimbRing(4))).toThrow(expect.objectContaining({ field: 'quorum' }));
    expect(() => planSecureAggregate({ ...JOB, privacy: { mode: 'central-dp', epsilon: 1 } }, typeOf, 3, secAggLimbRing(3))).toThrow(expect.objectContaining({ field: 'privacy.mode' }));
    const { groupKeys: _k, ...noKeys } = JOB;
    expect(() => planSecureAggregate(noKeys, typeOf, 3, secAggLimbRing(3))).toThrow(expect.objectContaining({ field: 'groupKeys' }));
    const sp = planSecureAggregate(JOB, typeOf, 3, secAggLimbRing(3));
    expect(() => decodeSecureSum(sp.layout, sp.plan, new Array<number>(sp.layout.vectorLength - 1).fill(0))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('secure cell layout', () => {
  const cohort = parseJobSpec({ kind: 'cohort', definition: { name: 'c', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' }, inclusionRules: [{ name: 'age 40+', type: 'age', min: 40 }] }, privacy: { mode: 'none' }, secure: 'secagg' }) as CellJob;

  it('property: the decoded sum of the agents cell vectors equals the per-cell sum of their counts', () => {
    const n = 4;
    const cp = planSecureCells(cohort, ruleNamesFor(cohort), n, secAggLimbRing(n));
    const cells = [...decodeSecureCells(cp, new Array<number>(cp.vectorLength).fill(0)).keys()];
    expect(cells.length).toBeGreaterThan(5);
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: cells.length, maxLength: cells.length }), { minLength: 3, maxLength: n }), (counts) => {
        const vectors = counts.map((c) => encodeSecureCells(cp, new Map(cells.map((name, i) => [name, BigInt(c[i]!)])), undefined, false));
        const decoded = decodeSecureCells(cp, addVectors(secAggLimbRing(n), vectors, cp.vectorLength));
        cells.forEach((name, i) => expect(decoded.get(name)).toBe(counts.reduce((a, c) => a + BigInt(c[i]!), 0n)));
      }),
      { seed: 77, numRuns: 40 },
    );
  });
});

describe('a secure sum that its limbs cannot hold', () => {
  it('is refused when planned, naming the measure (control: narrower bounds fit)', () => {
    // HE digits of 8 bits: 8 limbs hold 64 bits; Σx² of 4 agents × 1 000 rows up to 2^61 grid units each does not.
    const wide = parseJobSpec({ ...JOB, measures: [{ fn: 'variance', column: 'age', bounds: [0, 2 ** 40] }] }) as AggregateJob;
    expect(() => planSecureAggregate(wide, typeOf, 4, heLimbRing(8))).toThrow(/measures\[0\] \(variance_age\) \w+: the secure sum of 4 agents .* more than 8 limbs/);
    const narrow = parseJobSpec({ ...JOB, measures: [{ fn: 'variance', column: 'age', bounds: [0, 100] }] }) as AggregateJob;
    expect(() => planSecureAggregate(narrow, typeOf, 4, heLimbRing(8))).not.toThrow();
  });
});
