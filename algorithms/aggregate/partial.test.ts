import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { combinePartials, type AgentPartial, type GroupPartial, type KeyValue } from './partial.js';
import { finalizeExact, momentStats, ratioToNumber } from './finalize.js';

interface Row {
  g: number;
  x: number | null;
}

const SCALE = 16;
const LO = -50;
const HI = 120;

/** Reference: the statistics computed directly on pooled rows, the way one database would. */
function localPartial(agent: string, rows: Row[]): AgentPartial {
  const groups = new Map<number, GroupPartial>();
  for (const r of rows) {
    let g = groups.get(r.g);
    if (!g) {
      g = { key: [r.g], count: 0n, measures: [{ kind: 'moments', n: 0n, sum: 0n, sumSq: 0n, scaleBits: SCALE, sqScaleBits: 2 * SCALE }, { kind: 'histogram', bins: [0n, 0n, 0n] }, { kind: 'count' }], suppressedBy: [] };
      groups.set(r.g, g);
    }
    g.count += 1n;
    if (r.x !== null) {
      const c = Math.min(Math.max(r.x, LO), HI);
      const m = g.measures[0] as { n: bigint; sum: bigint; sumSq: bigint };
      m.n += 1n;
      m.sum += BigInt(Math.round(c * 2 ** SCALE));
      m.sumSq += BigInt(Math.round(c * c * 2 ** (2 * SCALE)));
      const h = g.measures[1] as { bins: bigint[] };
      const b = r.x < 0 ? 0 : r.x < 50 ? 1 : 2;
      h.bins[b]! += 1n;
    }
  }
  return { agent, groups: [...groups.values()] };
}

const rowArb = fc.record({ g: fc.integer({ min: 0, max: 4 }), x: fc.option(fc.double({ min: -100, max: 200, noNaN: true }), { nil: null }) });

describe('combine algebra of aggregate partials', () => {
  it('any split of the rows across any number of agents gives the pooled statistics exactly', () => {
    fc.assert(
      fc.property(fc.array(rowArb, { minLength: 0, maxLength: 200 }), fc.integer({ min: 1, max: 8 }), fc.array(fc.nat(), { maxLength: 200 }), (rows, nAgents, assign) => {
        const parts: Row[][] = Array.from({ length: nAgents }, () => []);
        rows.forEach((r, i) => parts[(assign[i] ?? i) % nAgents]!.push(r));
        const federated = combinePartials(parts.map((p, i) => localPartial(`a${i}`, p)));
        const pooled = combinePartials([localPartial('pooled', rows)]);
        expect(federated).toEqual(pooled);
      }),
      { seed: 20261124, numRuns: 200 },
    );
  });

  it('agent order does not matter', () => {
    fc.assert(
      fc.property(fc.array(fc.array(rowArb, { maxLength: 40 }), { minLength: 1, maxLength: 6 }), (parts) => {
        const partials = parts.map((p, i) => localPartial(`a${i}`, p));
        expect(combinePartials([...partials].reverse())).toEqual(combinePartials(partials));
      }),
      { seed: 7, numRuns: 200 },
    );
  });

  it('a group suppressed by any agent stays suppressed as a whole', () => {
    const a: AgentPartial = { agent: 'a', groups: [{ key: [1], count: 50n, measures: [{ kind: 'count' }], suppressedBy: [] }] };
    const b: AgentPartial = { agent: 'b', groups: [{ key: [1], count: 0n, measures: [{ kind: 'count' }], suppressedBy: ['b'] }] };
    const out = finalizeExact(combinePartials([a, b]), [{ fn: 'count', field: 'count' }]);
    expect(out.rows).toEqual([]);
    expect(out.suppressed).toEqual([{ key: [1], suppressedBy: ['b'] }]);
  });

  it('partials at different grid scales are rescaled exactly before adding', () => {
    const key: KeyValue[] = [];
    const a: AgentPartial = { agent: 'a', groups: [{ key, count: 2n, measures: [{ kind: 'moments', n: 2n, sum: 3n, sumSq: 5n, scaleBits: 0, sqScaleBits: 0 }], suppressedBy: [] }] };
    const b: AgentPartial = { agent: 'b', groups: [{ key, count: 1n, measures: [{ kind: 'moments', n: 1n, sum: 4n * 65536n, sumSq: 16n * 65536n * 65536n, scaleBits: 16, sqScaleBits: 32 }], suppressedBy: [] }] };
    const [g] = combinePartials([a, b]);
    const s = momentStats(g!.measures[0] as never);
    expect(s.sum).toBe(7);
    expect(s.mean).toBe(7 / 3);
    // values 1, 2, 4: sample variance = 7/3
    expect(s.variance).toBeCloseTo(7 / 3, 14);
  });

  it('ratioToNumber is exact for representable quotients and handles signs and huge integers', () => {
    expect(ratioToNumber(7n, 2n)).toBe(3.5);
    expect(ratioToNumber(-7n, 2n)).toBe(-3.5);
    expect(ratioToNumber(1n, 3n)).toBe(1 / 3);
    expect(ratioToNumber(10n ** 30n, 10n ** 10n)).toBe(1e20);
    expect(() => ratioToNumber(1n, 0n)).toThrow(RangeError);
  });
});
