import { describe, expect, it } from 'vitest';
import type { GroupPartial } from '../../algorithms/aggregate/index.js';
import { isFedmeshError, type FedmeshError } from '../errors.js';
import { cellBlocks, parseJobSpec } from '../job/index.js';
import type { AggregateJob, CellJob } from '../job/index.js';
import { encodeSecureCells, planSecureCells } from './cell-layout.js';
import { secAggLimbRing } from './limbs.js';
import { checkSecureMaxRows, clippingNote, settleSecureMaxRows } from './secure-max-rows.js';
import { planSecureAggregate } from './secure-job.js';
import { DEFAULT_SECURE_MAX_ROWS, encodeSecureVector } from './vector-layout.js';

const typeOf = (c: string): string => (c === 'year_of_birth' ? 'BIGINT' : 'DOUBLE');
const ring = secAggLimbRing(3);

function aggregate(extra: Record<string, unknown>): AggregateJob {
  return parseJobSpec({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }, { fn: 'sum', column: 'year_of_birth', bounds: [0, 100] }], privacy: { mode: 'none' }, secure: 'secagg', ...extra }) as AggregateJob;
}
function group(count: bigint, sum: bigint): GroupPartial {
  return { key: [], count, measures: [{ kind: 'count' }, { kind: 'moments', n: count, sum, sumSq: 0n, scaleBits: 0, sqScaleBits: 0 }], suppressedBy: [] };
}
function caught(fn: () => void): FedmeshError {
  try {
    fn();
  } catch (e) {
    if (isFedmeshError(e)) return e;
    throw e;
  }
  throw new Error('expected a FedmeshError');
}

describe('secure statistics are clipped to the public per-agent bound, never refused', () => {
  it('neighbours at the bound (300 vs 301 rows, cap 300) encode to the same vector in mode none', () => {
    const sp = planSecureAggregate(aggregate({ secureMaxRows: 300 }), typeOf, 3, ring);
    const sumSlot = sp.layout.slots.find((s) => s.kind === 'sum')!;
    // Negative control for the old code path: it threw INVALID_JOB for 301 ("outside the public per-agent bound").
    const at = encodeSecureVector(sp.layout, [group(300n, sumSlot.clipHi)], undefined, false);
    const above = encodeSecureVector(sp.layout, [group(301n, sumSlot.clipHi + 100n)], undefined, false);
    expect([...above]).toEqual([...at]);
    // Below the bound nothing changes: a different count gives a different vector.
    expect([...encodeSecureVector(sp.layout, [group(299n, 0n)], undefined, false)]).not.toEqual([...at]);
  });

  it('distributed-dp: a value far above the bound plus its noise share still encodes (clamped to the noise tail)', () => {
    const sp = planSecureAggregate(aggregate({ secureMaxRows: 300, privacy: { mode: 'distributed-dp', rho: 0.5 } }), typeOf, 3, ring);
    expect(() => encodeSecureVector(sp.layout, [group(10_000_000n, 10n ** 15n)], () => 1n << 40n, false)).not.toThrow();
  });

  it('cohort-level cells are clipped the same way', () => {
    const job = parseJobSpec({ kind: 'cohort', definition: { name: 'c', entry: { domain: 'condition', concepts: { include: [{ conceptId: 1 }] } } }, privacy: { mode: 'none' }, secure: 'secagg', secureMaxRows: 20 }) as CellJob;
    const plan = planSecureCells(job, [], 3, ring);
    const cells = cellBlocks(job, []).flatMap((b) => b.cells);
    const v = (n: bigint): (number | bigint)[] => [...encodeSecureCells(plan, new Map(cells.map((c) => [c, n])), undefined, false)];
    expect(v(21n)).toEqual(v(20n));
    expect(v(19n)).not.toEqual(v(20n));
  });
});

describe('secureMaxRows is a bound the agents agree to', () => {
  const dp = { privacy: { mode: 'distributed-dp', rho: 0.5 } };
  const agents = [
    { name: 'a1', secureMaxRows: 1000, minCellSize: 5 },
    { name: 'a2', minCellSize: 10 },
  ];
  const agreeing = [
    { name: 'a1', secureMaxRows: 1000, minCellSize: 5 },
    { name: 'a2', secureMaxRows: 1000, minCellSize: 10 },
  ];
  it('distributed-dp: a job bound above an agent maximum is refused, naming the field, the agent and its maximum', () => {
    const e = caught(() => checkSecureMaxRows(aggregate({ secureMaxRows: 1001, ...dp }), agents));
    expect(e.code).toBe('FAILED_PRECONDITION');
    expect(e.field).toBe('secureMaxRows');
    expect(e.message).toMatch(/secureMaxRows: 1001 is above 1000, the largest per-agent bound agent a1 agrees to/);
    // The default bound counts as asked for.
    expect(caught(() => checkSecureMaxRows(aggregate({ ...dp }), agents)).message).toMatch(new RegExp(`${DEFAULT_SECURE_MAX_ROWS} \\(the default; give secureMaxRows\\)`));
    expect(() => checkSecureMaxRows(aggregate({ secureMaxRows: 1000, ...dp }), agents)).not.toThrow();
    // Below any minimum cell size is fine there: the noise covers every outcome.
    expect(() => checkSecureMaxRows(aggregate({ secureMaxRows: 1, ...dp }), agents)).not.toThrow();
  });
  // Negative control: before, mode none accepted any bound between the largest k and the smallest maximum (300 here),
  // so a researcher could vary it and read per-agent counts from Σ min(count_i, b).
  it('mode none: the bound is the agreed value, filled in at admission; a researcher value that differs is refused naming it', () => {
    for (const b of [10, 300, 999, 1001]) {
      const e = caught(() => checkSecureMaxRows(aggregate({ secureMaxRows: b }), agreeing));
      expect(e.code).toBe('INVALID_JOB');
      expect(e.field).toBe('secureMaxRows');
      expect(e.message).toMatch(new RegExp(`^secureMaxRows: ${b} is not the agreed 1000: in mode none`));
    }
    const job = aggregate({});
    settleSecureMaxRows(job, agreeing);
    expect(job.secureMaxRows).toBe(1000);
    expect(() => settleSecureMaxRows(aggregate({ secureMaxRows: 1000 }), agreeing)).not.toThrow();
    expect(caught(() => settleSecureMaxRows(aggregate({ secureMaxRows: 300 }), agreeing)).message).toMatch(/300 is not the agreed 1000/);
  });
  it('mode none at an agent: the bound must equal its own published value, so a coordinator cannot probe either', () => {
    const self = [{ name: 'a1', secureMaxRows: 1000, minCellSize: 5 }];
    expect(() => checkSecureMaxRows(aggregate({ secureMaxRows: 1000 }), self)).not.toThrow();
    expect(caught(() => checkSecureMaxRows(aggregate({ secureMaxRows: 999 }), self)).message).toMatch(/999 is not the agreed 1000/);
    // An unfilled spec means the default, which is not this agent's value.
    expect(caught(() => checkSecureMaxRows(aggregate({}), self)).message).toMatch(new RegExp(`${DEFAULT_SECURE_MAX_ROWS} \\(the default\\) is not the agreed 1000`));
  });
  it('mode none: agents publishing different maxima, or an agreed bound below a minimum cell size, are refused from public information', () => {
    const e = caught(() => settleSecureMaxRows(aggregate({}), agents));
    expect(e.code).toBe('FAILED_PRECONDITION');
    expect(e.field).toBe('secureMaxRows');
    expect(e.message).toMatch(new RegExp(`publish different maxima \\(a1 1000, a2 ${DEFAULT_SECURE_MAX_ROWS}\\)`));
    const low = [{ name: 'a1', secureMaxRows: 9, minCellSize: 10 }];
    const f = caught(() => settleSecureMaxRows(aggregate({}), low));
    expect(f.code).toBe('FAILED_PRECONDITION');
    expect(f.message).toMatch(/the agreed 9 is below the minimum cell size 10 of an agent/);
  });
  it('the clipping note is a function of public parameters only', () => {
    expect(clippingNote(300, 'rows', 'none')).toMatch(/^secureMaxRows 300: every agent clips .*nobody is told whether any clipped$/);
    expect(clippingNote(300, 'rows', 'distributed-dp')).toMatch(/1-Lipschitz/);
  });
});
