/**
 * An aggregate query that fails on the database: the error names the product, never the engine's text, which can
 * quote a row's value (DuckDB's conversion and overflow errors do; PostgreSQL's invalid-input errors too). The
 * session here is DuckDB's, with its `all` made to fail as an engine would; the control runs the same job for real.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { planAggregatePrivacy, parseJobSpec } from '../../common/job/index.js';
import type { AggregateJob } from '../../common/job/index.js';
import { FedmeshError } from '../../common/errors.js';
import { duckdbSession } from '../data/source/duckdb-source.js';
import type { ProductInfo } from '../data/products.js';
import { queryGroupStatistics } from './group-statistics.js';

const job = parseJobSpec({ kind: 'aggregate', product: 'person', groupBy: ['gender'], groupKeys: { gender: ['F', 'M'] }, measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1, maxRowsPerPerson: 1 } }) as AggregateJob;
const product: ProductInfo = { name: 'person', columns: [{ name: 'person_id', type: 'BIGINT' }, { name: 'gender', type: 'VARCHAR' }], privacyUnit: 'person_id', description: '', source: '' };

describe('aggregate query errors', () => {
  it('pass on no engine text (it can quote data values); control: the same job runs on the real session', async () => {
    const inst = await DuckDBInstance.create(':memory:');
    const conn = await inst.connect();
    try {
      await conn.run("CREATE TABLE person AS SELECT * FROM (VALUES (1, 'F'), (2, 'M')) t(person_id, gender)");
      const privacy = planAggregatePrivacy(job, () => 'VARCHAR');
      const real = duckdbSession(conn);
      const stats = await queryGroupStatistics(real, job, product, privacy, 'salt');
      expect(stats.groups.map((g) => String(g.count))).toEqual(['1', '1']);
      const failing = { ...real, all: () => Promise.reject(new Error("Conversion Error: Could not convert string 'Jane Doe 1961-04-02' to INT64")) };
      const err = await queryGroupStatistics(failing, job, product, privacy, 'salt').then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(FedmeshError);
      expect((err as FedmeshError).code).toBe('INVALID_JOB');
      expect((err as FedmeshError).message).toContain('product person');
      expect((err as FedmeshError).message).not.toMatch(/Jane|1961|Conversion/);
    } finally {
      conn.closeSync();
      inst.closeSync();
    }
  });
});
