import { createHmac } from 'node:crypto';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planAggregatePrivacy } from '../../common/job/privacy-plan.js';
import type { AggregateJob } from '../../common/job/spec.js';
import { parseJobSpec } from '../../common/job/validate.js';
import type { ProductInfo } from '../data/products.js';
import { queryGroupStatistics } from '../query/group-statistics.js';

/**
 * Issue 15 point 4: contribution bounding across sites with a linkage key. A mesh of three sites (one DuckDB each)
 * where some persons attend 2 or 3 sites under different local person ids but the same linkage key (an HMAC of their
 * national id under the sites' shared secret, made as the README says). Exact counts, no noise: removing one person
 * from every site must move the mesh total by at most k with linkage bounding, and by m × k without it.
 */
const SITES = ['site-a', 'site-b', 'site-c'];
const K = 2;
/** Rows each person has at each site they attend: more than k, so bounding matters. */
const ROWS_PER_SITE = K + 2;
const PERSONS = 60;
/** Persons with no linkage key (at site-a only), 61..65. */
const NULL_KEY_PERSONS = [61, 62, 63, 64, 65];
const SHARED_SECRET = 'test-only secret the sites share and the coordinator never holds';
const SALT = '0123456789abcdef0123456789abcdef';

/** The sites person p attends: every third person is at all three, every third at two, the rest at one. */
function sitesOf(p: number): number[] {
  if (p % 3 === 0) return [0, 1, 2];
  if (p % 3 === 1) return [p % 2, 2];
  return [p % 3 === 2 ? p % 3 : 0];
}
const linkKey = (p: number): string => createHmac('sha256', SHARED_SECRET).update(`national-id-${p}`).digest('hex');

let instances: DuckDBInstance[] = [];
let conns: DuckDBConnection[] = [];

function product(site: number, linkage = true): ProductInfo {
  return {
    name: 'visits',
    columns: [{ name: 'person_id', type: 'BIGINT' }, { name: 'link_key', type: 'VARCHAR' }, { name: 'x', type: 'DOUBLE' }],
    privacyUnit: 'person_id',
    ...(linkage ? { linkage: { column: 'link_key', site: SITES[site]! } } : {}),
    description: '',
    source: '',
  };
}

function job(privacy: Record<string, unknown>): AggregateJob {
  return parseJobSpec({ kind: 'aggregate', product: 'visits', measures: [{ fn: 'count' }, { fn: 'sum', column: 'x', bounds: [0, 10] }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6, maxRowsPerPerson: K, ...privacy } }) as AggregateJob;
}

/** Exact bounded (count, sum on the grid) of one site, leaving out `without` (a person, at every site). */
async function siteTotals(site: number, j: AggregateJob, without?: number): Promise<{ count: bigint; sum: bigint }> {
  const conn = conns[site]!;
  // CREATE TABLE AS takes no parameters: `without` is a test-chosen integer. (A table: DP bounding orders by rowid, which views lack.)
  await conn.run(`CREATE OR REPLACE TEMP TABLE visits AS SELECT person_id, link_key, x FROM visits_all WHERE global_id IS DISTINCT FROM ${Math.trunc(without ?? -1)}`);
  const privacy = planAggregatePrivacy(j, (c) => (c === 'x' ? 'DOUBLE' : 'VARCHAR'));
  const stats = await queryGroupStatistics(conn, j, product(site, j.privacy.linkage !== undefined), privacy, `agent-salt-${site}`);
  const g = stats.groups[0];
  const m = g?.measures[1];
  return { count: g?.count ?? 0n, sum: m && m.kind === 'moments' ? m.sum : 0n };
}

async function meshTotals(j: AggregateJob, without?: number): Promise<{ count: bigint; sum: bigint; perSite: bigint[] }> {
  const per = await Promise.all(SITES.map((_, s) => siteTotals(s, j, without)));
  return { count: per.reduce((a, b) => a + b.count, 0n), sum: per.reduce((a, b) => a + b.sum, 0n), perSite: per.map((p) => p.count) };
}

beforeAll(async () => {
  for (let s = 0; s < SITES.length; s++) {
    const inst = await DuckDBInstance.create(':memory:');
    const conn = await inst.connect();
    instances.push(inst);
    conns.push(conn);
    // global_id is the test's own bookkeeping (to remove a person everywhere); the job never sees it.
    await conn.run('CREATE TABLE visits_all (global_id BIGINT, person_id BIGINT, link_key VARCHAR, x DOUBLE)');
    const rows: string[] = [];
    for (let p = 1; p <= PERSONS; p++) {
      if (!sitesOf(p).includes(s)) continue;
      // Local ids differ per site: only the linkage key says it is the same person.
      for (let r = 0; r < ROWS_PER_SITE; r++) rows.push(`(${p}, ${1000 * (s + 1) + p}, '${linkKey(p)}', ${10})`);
    }
    if (s === 0) for (const p of NULL_KEY_PERSONS) for (let r = 0; r < ROWS_PER_SITE; r++) rows.push(`(${p}, ${1000 + p}, NULL, 10)`);
    await conn.run(`INSERT INTO visits_all VALUES ${rows.join(', ')}`);
  }
});

afterAll(() => {
  for (const c of conns) c.closeSync();
  for (const i of instances) i.closeSync();
  conns = [];
  instances = [];
});

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
    const conn = conns[0]!;
    await conn.run('CREATE OR REPLACE TEMP TABLE visits AS SELECT person_id, link_key, x FROM visits_all');
    const run = (j: AggregateJob, p: ProductInfo) => queryGroupStatistics(conn, j, p, planAggregatePrivacy(j, () => 'DOUBLE'), 'salt');
    await expect(run(job({ linkage: {} }), product(0))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', field: 'privacy.linkage' });
    await expect(run(linked(), product(0, false))).rejects.toThrow(/declares no linkageKey/);
    await expect(run(job({ linkage: { sites: ['site-b', 'site-c'], salt: SALT } }), product(0))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', field: 'privacy.linkage.sites' });
  });
});
