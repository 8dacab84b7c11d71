import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planAggregatePrivacy } from '../../common/job/index.js';
import type { AggregateJob } from '../../common/job/index.js';
import type { ProductInfo } from '../data/products.js';
import { queryGroupStatistics } from '../query/group-statistics.js';
import { closeSites, conn, job, K, meshTotals, NULL_KEY_PERSONS, PERSONS, product, SALT, SITES, siteTotals, sitesOf, openSites } from './test-sites.js';

/**
 * Issue 15 point 4: contribution bounding across sites with a linkage key, on the three-site fixture of
 * test-sites.ts. Exact counts, no noise: removing one person from every site must move the mesh total by at most k
 * with linkage bounding, and by m × k without it.
 */
beforeAll(openSites);
afterAll(closeSites);

describe('contribution bounding across sites with a linkage key (exact counts, no noise)', () => {
  const linked = (): AggregateJob => job({ linkage: { sites: SITES, salt: SALT } });

  it('removing any one person from every site moves the mesh count by at most k and the sum by at most k × bound; some person moves it by exactly k', async () => {
    const all = await meshTotals(linked());
    let maxCount = 0n;
    let maxSum = 0n;
    const multiSite = Array.from({ length: PERSONS }, (_, i) => i + 1).filter((p) => sitesOf(p).length > 1);
    expect(multiSite.length).toBeGreaterThan(30);
    for (const p of [...multiSite, ...NULL_KEY_PERSONS]) {
      const without = await meshTotals(linked(), p);
      const dc = all.count - without.count;
      const ds = all.sum - without.sum;
      expect(dc, `person ${p}`).toBeGreaterThanOrEqual(0n);
      expect(dc, `person ${p} (at ${sitesOf(p).length} sites)`).toBeLessThanOrEqual(BigInt(K));
      if (dc > maxCount) maxCount = dc;
      if (ds > maxSum) maxSum = ds;
    }
    expect(maxCount).toBe(BigInt(K));
    // x = 10 = the upper bound on a grid of 2^-scaleBits: k rows move the sum by k × 10 grid-scaled, never more.
    const perRow = maxSum / BigInt(K);
    expect(maxSum).toBe(perRow * BigInt(K));
    expect(maxSum).toBeGreaterThan(0n);
  });

  it('a person at all three sites is counted at exactly one of them (k rows), and the one differs between salts', async () => {
    const atAll = Array.from({ length: PERSONS }, (_, i) => i + 1).filter((p) => sitesOf(p).length === 3);
    const designated = async (salt: string, p: number): Promise<number[]> => {
      const j = job({ linkage: { sites: SITES, salt } });
      const all = await Promise.all(SITES.map((_, s) => siteTotals(s, j)));
      const without = await Promise.all(SITES.map((_, s) => siteTotals(s, j, p)));
      return all.map((a, s) => Number(a.count - without[s]!.count));
    };
    const seen = new Set<string>();
    for (const p of atAll.slice(0, 8)) {
      const d1 = await designated(SALT, p);
      expect(d1.filter((c) => c > 0), `person ${p}: ${d1.join(',')}`).toEqual([K]);
      const d2 = await designated('fedcba9876543210fedcba9876543210', p);
      expect(d2.filter((c) => c > 0)).toEqual([K]);
      seen.add(`${d1.indexOf(K)}>${d2.indexOf(K)}`);
    }
    // A job-salted partition: across 8 persons and two salts the designated sites are not all the same pair.
    expect(seen.size).toBeGreaterThan(1);
  });

  it('negative control: without linkage bounding a person at m sites moves the mesh count by m × k', async () => {
    const plain = job({});
    const all = await meshTotals(plain);
    for (const p of [3, 6, 4, 7]) {
      const without = await meshTotals(plain, p);
      expect(all.count - without.count, `person ${p}`).toBe(BigInt(sitesOf(p).length * K));
    }
    expect(sitesOf(3).length).toBe(3);
  });

  it('rows whose linkage key is NULL are not counted with linkage (they could not be bounded across sites), and are without it', async () => {
    for (const p of NULL_KEY_PERSONS) {
      const a = await siteTotals(0, linked());
      const b = await siteTotals(0, linked(), p);
      expect(a.count - b.count).toBe(0n);
      const c = await siteTotals(0, job({}));
      const d = await siteTotals(0, job({}), p);
      expect(c.count - d.count).toBe(BigInt(K));
    }
  });

  it('utility: the linkage-bounded total is a hash sample — close to (Σ sites per person)/n × k persons, far below the unbounded-across-sites total', async () => {
    const linkedTotal = (await meshTotals(linked())).count;
    const plainTotal = (await meshTotals(job({}))).count;
    const attended = Array.from({ length: PERSONS }, (_, i) => sitesOf(i + 1).length).reduce((a, b) => a + b, 0);
    const expected = (attended / SITES.length) * K;
    // Binomial sampling of 60 persons: a generous 5-σ band (σ ≤ k·√(Σ p(1−p)) ≤ 2·√15 ≈ 7.7).
    expect(Math.abs(Number(linkedTotal) - expected)).toBeLessThan(40);
    expect(plainTotal).toBe(BigInt((attended + NULL_KEY_PERSONS.length) * K));
  });

  it('refuses at the agent, from public information only: no site list, no declared linkage key, or this agent not among the sites', async () => {
    const c0 = conn(0);
    await c0.run('CREATE OR REPLACE TEMP TABLE visits AS SELECT person_id, link_key, x FROM visits_all');
    const run = (j: AggregateJob, p: ProductInfo) => queryGroupStatistics(c0, j, p, planAggregatePrivacy(j, () => 'DOUBLE'), 'salt');
    await expect(run(job({ linkage: {} }), product(0))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', field: 'privacy.linkage' });
    await expect(run(linked(), product(0, false))).rejects.toThrow(/declares no linkageKey/);
    await expect(run(job({ linkage: { sites: ['site-b', 'site-c'], salt: SALT } }), product(0))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', field: 'privacy.linkage.sites' });
  });
});
