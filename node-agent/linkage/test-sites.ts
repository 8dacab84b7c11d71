import { createHmac } from 'node:crypto';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { planAggregatePrivacy, parseJobSpec } from '../../common/job/index.js';
import type { AggregateJob } from '../../common/job/index.js';
import type { ProductInfo } from '../data/products.js';
import { queryGroupStatistics } from '../query/group-statistics.js';

/**
 * Test fixture (tests only): a mesh of three sites, one in-memory DuckDB each, where some persons attend 2 or 3 sites
 * under different local person ids but the same linkage key (an HMAC of their national id under the sites' shared
 * secret, made as the README says), and a few persons at site-a have no key. The job's exact SQL runs at each site.
 */
export const SITES = ['site-a', 'site-b', 'site-c'];
export const K = 2;
/** Rows each person has at each site they attend: more than k, so bounding matters. */
const ROWS_PER_SITE = K + 2;
export const PERSONS = 60;
/** Persons with no linkage key (at site-a only), 61..65. */
export const NULL_KEY_PERSONS = [61, 62, 63, 64, 65];
const SHARED_SECRET = 'test-only secret the sites share and the coordinator never holds';
export const SALT = '0123456789abcdef0123456789abcdef';

/** The sites person p attends: every third person is at all three, every third at two, the rest at one. */
export function sitesOf(p: number): number[] {
  if (p % 3 === 0) return [0, 1, 2];
  if (p % 3 === 1) return [p % 2, 2];
  return [p % 3 === 2 ? p % 3 : 0];
}
const linkKey = (p: number): string => createHmac('sha256', SHARED_SECRET).update(`national-id-${p}`).digest('hex');

let instances: DuckDBInstance[] = [];
let conns: DuckDBConnection[] = [];

export function product(site: number, linkage = true): ProductInfo {
  return {
    name: 'visits',
    columns: [{ name: 'person_id', type: 'BIGINT' }, { name: 'link_key', type: 'VARCHAR' }, { name: 'x', type: 'DOUBLE' }],
    privacyUnit: 'person_id',
    ...(linkage ? { linkage: { column: 'link_key', site: SITES[site]! } } : {}),
    description: '',
    source: '',
  };
}

export function job(privacy: Record<string, unknown>): AggregateJob {
  return parseJobSpec({ kind: 'aggregate', product: 'visits', measures: [{ fn: 'count' }, { fn: 'sum', column: 'x', bounds: [0, 10] }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6, maxRowsPerPerson: K, ...privacy } }) as AggregateJob;
}

/** Exact bounded (count, sum on the grid) of one site, leaving out `without` (a person, at every site). */
export async function siteTotals(site: number, j: AggregateJob, without?: number): Promise<{ count: bigint; sum: bigint }> {
  const c = conn(site);
  // CREATE TABLE AS takes no parameters: `without` is a test-chosen integer. (A table: DP bounding orders by rowid, which views lack.)
  await c.run(`CREATE OR REPLACE TEMP TABLE visits AS SELECT person_id, link_key, x FROM visits_all WHERE global_id IS DISTINCT FROM ${Math.trunc(without ?? -1)}`);
  const privacy = planAggregatePrivacy(j, (c) => (c === 'x' ? 'DOUBLE' : 'VARCHAR'));
  const stats = await queryGroupStatistics(c, j, product(site, j.privacy.linkage !== undefined), privacy, `agent-salt-${site}`);
  const g = stats.groups[0];
  const m = g?.measures[1];
  return { count: g?.count ?? 0n, sum: m && m.kind === 'moments' ? m.sum : 0n };
}

export async function meshTotals(j: AggregateJob, without?: number): Promise<{ count: bigint; sum: bigint; perSite: bigint[] }> {
  const per = await Promise.all(SITES.map((_, s) => siteTotals(s, j, without)));
  return { count: per.reduce((a, b) => a + b.count, 0n), sum: per.reduce((a, b) => a + b.sum, 0n), perSite: per.map((p) => p.count) };
}

/** Creates the three sites' tables. */
export async function openSites(): Promise<void> {
  for (let s = 0; s < SITES.length; s++) {
    const inst = await DuckDBInstance.create(':memory:');
    const c = await inst.connect();
    instances.push(inst);
    conns.push(c);
    // global_id is the test's own bookkeeping (to remove a person everywhere); the job never sees it.
    await c.run('CREATE TABLE visits_all (global_id BIGINT, person_id BIGINT, link_key VARCHAR, x DOUBLE)');
    const rows: string[] = [];
    for (let p = 1; p <= PERSONS; p++) {
      if (!sitesOf(p).includes(s)) continue;
      // Local ids differ per site: only the linkage key says it is the same person.
      for (let r = 0; r < ROWS_PER_SITE; r++) rows.push(`(${p}, ${1000 * (s + 1) + p}, '${linkKey(p)}', ${10})`);
    }
    if (s === 0) for (const p of NULL_KEY_PERSONS) for (let r = 0; r < ROWS_PER_SITE; r++) rows.push(`(${p}, ${1000 + p}, NULL, 10)`);
    await c.run(`INSERT INTO visits_all VALUES ${rows.join(', ')}`);
  }
}

export function closeSites(): void {
  for (const c of conns) c.closeSync();
  for (const i of instances) i.closeSync();
  conns = [];
  instances = [];
}


/** The connection of site `i` (after openSites). */
export function conn(i: number): DuckDBConnection {
  const c = conns[i];
  if (!c) throw new Error(`site ${i} is not open`);
  return c;
}
