import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { planAggregatePrivacy } from '../../common/job/index.js';
import type { AggregateJob } from '../../common/job/index.js';
import { closeSites, job, K, meshTotals, openSites, PERSONS, SALT, SITES, sitesOf } from './test-sites.js';

/**
 * Issue 15 point 4, statistically: the central-dp count of a linkage-bounded job over the three-site fixture, on the
 * neighbouring data sets "all persons" and "all persons but one person at 3 sites" (the worst such person: the one
 * whose removal moves the exact linked count most). Noise is the job's own plan (discrete Laplace at ε = ln 3,
 * sensitivity k, since linkage plans for maxSitesPerPerson = 1), N samples per side. For every threshold set
 * S = {y ≤ s} and its complement we check, both directions, P̂[M(D) ∈ S] ≤ e^ε P̂[M(D') ∈ S] + slack, with
 * slack = 5 standard errors of the difference + 5/N (the method of algorithms/dp/mechanisms/neighbouring.stat.test.ts).
 * Negative control: the same job without linkage, still planned for sensitivity k (as if each person were at one
 * site), moves by m × k = 3k for that person, an effective ε of 3 ln 3, and must be rejected.
 */
const N = 200_000;
const EPSILON = Math.log(3);

function histogram(j: AggregateJob, exact: bigint, seed: string): Map<number, number> {
  const plan = planAggregatePrivacy(j, () => 'DOUBLE');
  const m = plan.dp!.measures[0]!;
  if (m.fn !== 'count') throw new Error('count measure expected');
  const rng = createSeededRng(seed);
  const h = new Map<number, number>();
  for (let i = 0; i < N; i++) {
    const y = Number(exact + m.noise.sample(rng));
    h.set(y, (h.get(y) ?? 0) + 1);
  }
  return h;
}

function worstViolation(h0: Map<number, number>, h1: Map<number, number>, epsilon: number): number {
  const keys = [...new Set([...h0.keys(), ...h1.keys()])].sort((a, b) => a - b);
  const e = Math.exp(epsilon);
  let worst = -Infinity;
  const check = (pa: number, pb: number): void => {
    const slack = 5 * Math.sqrt((pa * (1 - pa)) / N + (e * e * pb * (1 - pb)) / N) + 5 / N;
    worst = Math.max(worst, pa - e * pb - slack);
  };
  let le0 = 0;
  let le1 = 0;
  for (const s of keys) {
    le0 += h0.get(s) ?? 0;
    le1 += h1.get(s) ?? 0;
    const [a, b] = [le0 / N, le1 / N];
    check(a, b);
    check(b, a);
    check(1 - a, 1 - b);
    check(1 - b, 1 - a);
  }
  return worst;
}

beforeAll(openSites);
afterAll(closeSites);

describe('ε of a linkage-bounded count on neighbouring meshes (a person at 3 sites removed)', () => {
  const countOnly = (privacy: Record<string, unknown>): AggregateJob => {
    const j = job({ epsilon: EPSILON, delta: undefined, ...privacy });
    return { ...j, measures: [j.measures[0]!], privacy: { ...j.privacy, epsilon: EPSILON } };
  };
  const atAll = Array.from({ length: PERSONS }, (_, i) => i + 1).filter((p) => sitesOf(p).length === SITES.length);

  it(`passes at ε = ln 3 with linkage bounding (N = ${N} per side, 5-σ slack)`, async () => {
    const j = countOnly({ linkage: { sites: SITES, salt: SALT } });
    expect(planAggregatePrivacy(j, () => 'DOUBLE').maxSitesPerPerson).toBe(1);
    const all = (await meshTotals(j)).count;
    let worst = atAll[0]!;
    let worstDiff = -1n;
    for (const p of atAll) {
      const d = all - (await meshTotals(j, p)).count;
      if (d > worstDiff) [worst, worstDiff] = [p, d];
    }
    expect(worstDiff).toBe(BigInt(K));
    const without = (await meshTotals(j, worst)).count;
    expect(worstViolation(histogram(j, all, 'l0'), histogram(j, without, 'l1'), EPSILON)).toBeLessThanOrEqual(0);
  });

  it('negative control: without linkage (noise still for sensitivity k) the same removal is rejected', async () => {
    const j = countOnly({});
    const all = (await meshTotals(j)).count;
    const without = (await meshTotals(j, atAll[0]!)).count;
    expect(all - without).toBe(BigInt(SITES.length * K));
    expect(worstViolation(histogram(j, all, 'n0'), histogram(j, without, 'n1'), EPSILON)).toBeGreaterThan(0.05);
  });
});
