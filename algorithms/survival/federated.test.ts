/**
 * Federated correctness: counts summed over agents give exactly the Kaplan–Meier curve (and log-rank test) of
 * the pooled individual data. The reference below works on individual records at their distinct event times,
 * independently of the module's binning and counting code.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { kaplanMeier, logRankTest, sumStratumCounts } from './index.js';
import type { StratumCounts } from './index.js';

interface Subject {
  time: number;
  event: boolean;
  agent: number;
  group: number;
}

/** Straightforward product-limit estimate and Greenwood sum from individual records, at time t. */
function referenceKm(subjects: readonly Subject[], t: number): { s: number; greenwood: number } {
  const eventTimes = [...new Set(subjects.filter((x) => x.event && x.time <= t).map((x) => x.time))].sort((a, b) => a - b);
  let s = 1;
  let greenwood = 0;
  for (const u of eventTimes) {
    const n = subjects.filter((x) => x.time >= u).length;
    const d = subjects.filter((x) => x.time === u && x.event).length;
    s *= (n - d) / n;
    greenwood += n > d ? d / (n * (n - d)) : 0;
  }
  return { s, greenwood };
}

/** What one agent returns for its own subjects: events, censorings and at-risk at the start of each bin. */
function agentCounts(subjects: readonly Subject[], grid: readonly number[], mode: 'atRisk' | 'initial'): StratumCounts {
  const inBin = (x: Subject, i: number): boolean => x.time <= grid[i]! && (i === 0 || x.time > grid[i - 1]!);
  const events = grid.map((_, i) => subjects.filter((x) => x.event && inBin(x, i)).length);
  const censored = grid.map((_, i) => subjects.filter((x) => !x.event && inBin(x, i)).length);
  if (mode === 'initial') return { times: [...grid], events, censored, initialAtRisk: subjects.length };
  const atRisk = grid.map((_, i) => subjects.filter((x) => i === 0 || x.time > grid[i - 1]!).length);
  return { times: [...grid], events, censored, atRisk };
}

const MAX_TIME = 20;
const subjectArb = (agents: number): fc.Arbitrary<Subject> =>
  fc.record({
    time: fc.integer({ min: 1, max: MAX_TIME }),
    event: fc.boolean(),
    agent: fc.integer({ min: 0, max: agents - 1 }),
    group: fc.integer({ min: 0, max: 1 }),
  });
const scenario = fc
  .integer({ min: 1, max: 5 })
  .chain((agents) => fc.record({ agents: fc.constant(agents), subjects: fc.array(subjectArb(agents), { minLength: 1, maxLength: 60 }), mode: fc.constantFrom('atRisk' as const, 'initial' as const) }));
const GRID = Array.from({ length: MAX_TIME }, (_, i) => i + 1);

describe('federated Kaplan–Meier equals pooled Kaplan–Meier', () => {
  it('summed per-agent counts equal pooled counts, and the curve equals the independent pooled reference', () => {
    fc.assert(
      fc.property(scenario, ({ agents, subjects, mode }) => {
        const parts = Array.from({ length: agents }, (_, a) => agentCounts(subjects.filter((x) => x.agent === a), GRID, mode));
        const summed = sumStratumCounts(parts);
        const pooledCounts = agentCounts(subjects, GRID, mode);
        expect(summed).toEqual(pooledCounts);
        const federated = kaplanMeier(summed);
        expect(federated).toEqual(kaplanMeier(pooledCounts));
        expect(federated.notes.filter((n) => !/before the first event|once S reaches 0/.test(n))).toEqual([]);
        // Against the independent reference; tolerance 1e-12 covers only the different order of float operations.
        GRID.forEach((t, i) => {
          const ref = referenceKm(subjects, t);
          expect(Math.abs(federated.survival[i]! - ref.s)).toBeLessThanOrEqual(1e-12);
          if (ref.s > 0) expect(Math.abs(federated.variance[i]! - ref.s * ref.s * ref.greenwood)).toBeLessThanOrEqual(1e-12);
        });
      }),
      { numRuns: 150, seed: 20240501 },
    );
  });

  it('the log-rank test from summed counts equals the one from pooled counts and a direct individual-level computation', () => {
    fc.assert(
      fc.property(scenario, ({ agents, subjects, mode }) => {
        const strata = [0, 1].map((g) => {
          const parts = Array.from({ length: agents }, (_, a) =>
            agentCounts(subjects.filter((x) => x.agent === a && x.group === g), GRID, mode),
          );
          return sumStratumCounts(parts);
        });
        const pooled = [0, 1].map((g) => agentCounts(subjects.filter((x) => x.group === g), GRID, mode));
        const fed = logRankTest(strata);
        expect(fed).toEqual(logRankTest(pooled));
        // Direct two-sample computation over distinct event times of the individual data.
        let o = 0;
        let e = 0;
        let v = 0;
        for (const u of new Set(subjects.filter((x) => x.event).map((x) => x.time))) {
          const risk = subjects.filter((x) => x.time >= u);
          const n = risk.length;
          const n0 = risk.filter((x) => x.group === 0).length;
          const d = risk.filter((x) => x.time === u && x.event).length;
          o += risk.filter((x) => x.time === u && x.event && x.group === 0).length;
          e += (n0 * d) / n;
          if (n > 1) v += (n0 / n) * (1 - n0 / n) * ((d * (n - d)) / (n - 1));
        }
        if (fed.statistic !== null && v > 0) {
          expect(Math.abs(fed.statistic - (o - e) ** 2 / v)).toBeLessThanOrEqual(1e-9 * Math.max(1, fed.statistic));
        }
      }),
      { numRuns: 100, seed: 77 },
    );
  });

  it('negative control: averaging per-agent curves (weighted by agent size) is caught by the same reference', () => {
    // Agent 0: early events; agent 1: late follow-up. Pooling matters.
    const subjects: Subject[] = [
      { time: 1, event: true, agent: 0, group: 0 },
      { time: 2, event: true, agent: 0, group: 0 },
      { time: 5, event: false, agent: 0, group: 0 },
      { time: 3, event: true, agent: 1, group: 0 },
      { time: 6, event: true, agent: 1, group: 0 },
      { time: 8, event: false, agent: 1, group: 0 },
      { time: 9, event: true, agent: 1, group: 0 },
    ];
    const curves = [0, 1].map((a) => kaplanMeier(agentCounts(subjects.filter((x) => x.agent === a), GRID, 'atRisk')));
    const sizes = [3, 4];
    const i = GRID.indexOf(6);
    const averaged = (curves[0]!.survival[i]! * sizes[0]! + curves[1]!.survival[i]! * sizes[1]!) / 7;
    expect(Math.abs(averaged - referenceKm(subjects, 6).s)).toBeGreaterThan(1e-12);
    const parts = [0, 1].map((a) => agentCounts(subjects.filter((x) => x.agent === a), GRID, 'atRisk'));
    expect(Math.abs(kaplanMeier(sumStratumCounts(parts)).survival[i]! - referenceKm(subjects, 6).s)).toBeLessThanOrEqual(1e-12);
  });
});
