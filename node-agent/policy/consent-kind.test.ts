/**
 * The consent scope under a job kind's own SQL: the aggregate kind's local statistics query (the code an agent runs
 * for `aggregate` jobs) on a scoped connection gives exactly what it gives over the data without the opted-out
 * person; on another connection, and for another purpose, the person still counts (negative controls).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSpec, planAggregatePrivacy } from '../../common/job/index.js';
import type { AggregateJob } from '../../common/job/index.js';
import { listProducts } from '../data/products.js';
import { queryGroupStatistics } from '../query/group-statistics.js';
import { parseConsentRow, type PatientConsent } from './consent.js';
import { applyConsentScope } from './consent-scope.js';

const NOW = Date.parse('2026-06-01');
const JOB = parseJobSpec({
  kind: 'aggregate',
  product: 'person',
  groupBy: ['gender_concept_id'],
  groupKeys: { gender_concept_id: [8507, 8532] },
  measures: [{ fn: 'count' }, { fn: 'sum', column: 'year_of_birth', bounds: [1900, 2030] }, { fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }],
  privacy: { mode: 'central-dp', epsilon: 1 },
}) as AggregateJob;

const optOut = (person: string, purpose: string): PatientConsent => {
  const r = parseConsentRow({ person_id: person, purpose, decision: 'deny', start: '', end: '' }, 'test');
  if (!r.ok) throw new Error(r.problem);
  return r.consent;
};

let dir: string;
const dbs: DuckDBInstance[] = [];
async function database(name: string, withoutPerson?: number): Promise<DuckDBInstance> {
  const db = await DuckDBInstance.create(join(dir, `${name}.duckdb`));
  dbs.push(db);
  const c = await db.connect();
  await c.run(`CREATE TABLE person AS SELECT i AS person_id, CASE WHEN i = 13 THEN 1901 ELSE 1950 + i % 30 END AS year_of_birth, CASE WHEN i % 2 = 0 THEN 8507 ELSE 8532 END AS gender_concept_id FROM range(1, 61) t(i) ${withoutPerson ? `WHERE i <> ${withoutPerson}` : ''}`);
  c.closeSync();
  return db;
}

async function localStatistics(conn: DuckDBConnection): Promise<unknown> {
  const product = (await listProducts(conn)).find((p) => p.name === 'person')!;
  const privacy = planAggregatePrivacy(JOB, (c) => product.columns.find((x) => x.name === c)?.type ?? 'VARCHAR');
  const stats = await queryGroupStatistics(conn, JOB, product, privacy, 'salt');
  return { groups: stats.groups, cells: stats.cells };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fedmesh-consent-kind-'));
});
afterAll(() => {
  for (const d of dbs) d.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

describe('consent scope under the aggregate kind', () => {
  it("person 13 opted out of HRESCH: the agent's statistics equal those of the data without person 13", async () => {
    const db = await database('site');
    const reference = await database('site-without-13', 13);
    const scoped = await db.connect();
    expect(await applyConsentScope(scoped, { consents: [optOut('13', 'HRESCH'), optOut('99', 'PUBHLTH')], purpose: 'HRESCH', atMs: NOW, products: [{ name: 'person', privacyUnit: 'person_id' }] })).toBe(1);
    const plain = await reference.connect();
    expect(await localStatistics(scoped)).toEqual(await localStatistics(plain));
    // Negative controls: another connection of the same database, and the same scope for another purpose.
    const other = await db.connect();
    const unscoped = await localStatistics(other);
    expect(unscoped).not.toEqual(await localStatistics(plain));
    const forPublicHealth = await db.connect();
    await applyConsentScope(forPublicHealth, { consents: [optOut('13', 'HRESCH')], purpose: 'PUBHLTH', atMs: NOW, products: [{ name: 'person', privacyUnit: 'person_id' }] });
    expect(await localStatistics(forPublicHealth)).toEqual(unscoped);
    for (const c of [scoped, plain, other, forPublicHealth]) c.closeSync();
  });
});

describe('consent scope under the cohort kind', () => {
  it("the cohort's cells (persons, entries, attrition) equal those of the data without the opted-out person", async () => {
    const { omopDbWith } = await import('../cohort/test-omop.js');
    const { computeCells } = await import('../jobs/cell-jobs.js');
    type Row = readonly (string | number | null)[];
    const fixture = (without?: number): Record<string, Row[]> => {
      const ids = Array.from({ length: 30 }, (_, k) => k + 1).filter((p) => p !== without);
      return {
        person: ids.map((p) => [p, p % 2 === 0 ? 8507 : 8532, p === 13 ? 1930 : 1940 + (p % 20), 0, 0]),
        observation_period: ids.map((p) => [p, p, '2005-01-01', '2020-12-31']),
        concept: [[201826, 'type 2 diabetes', null]],
        concept_ancestor: [[201826, 201826]],
        condition_occurrence: ids.flatMap((p) => (p % 3 === 0 || p === 13 ? [[p * 10, p, 201826, '2015-03-01', null, null, 0] as Row, [p * 10 + 1, p, 201826, '2016-03-01', null, null, 0] as Row] : [])),
      };
    };
    const job = parseJobSpec({
      kind: 'cohort',
      definition: { name: 't2d', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'all' }, observation: { priorDays: 0, postDays: 0 }, inclusionRules: [{ name: 'age 60+', type: 'age', min: 60 }] },
      privacy: { mode: 'central-dp', epsilon: 1 },
    });
    const full = await omopDbWith(fixture() as never);
    const reference = await omopDbWith(fixture(13) as never);
    try {
      const cells = async (conn: DuckDBConnection): Promise<Record<string, string>> => Object.fromEntries([...(await computeCells(conn, job as never, 'task-1')).entries()].map(([k, v]) => [k, String(v)]));
      const unscoped = await cells(full.conn);
      const scoped = await full.instance.connect();
      const products = ['person', 'observation_period', 'condition_occurrence'].map((name) => ({ name, privacyUnit: 'person_id' }));
      await applyConsentScope(scoped, { consents: [optOut('13', 'HRESCH')], purpose: 'HRESCH', atMs: NOW, products });
      const expected = await cells(reference.conn);
      expect(Number(expected.persons)).toBeGreaterThan(5);
      expect(await cells(scoped)).toEqual(expected);
      // Negative control: person 13 is in the cohort (an entry and the age rule), so without the scope cells differ.
      expect(unscoped).not.toEqual(expected);
      scoped.closeSync();
    } finally {
      full.close();
      reference.close();
    }
  });
});
