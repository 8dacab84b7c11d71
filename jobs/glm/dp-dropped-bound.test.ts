/**
 * In the DP modes glm releases nDropped (rows selected but unusable) with the noise of maxRowsPerPerson = k rows per
 * person (index.ts, DROPPED_BLOCK's sensitivity), so the agent must count at most k dropped rows per person, as it
 * keeps at most k usable ones. Red team 29, F1: one person with 1 000 rows of a missing outcome moved the count by
 * 1 000 while its noise assumed 1, so whether that person was in the `where` was readable within the charged ε.
 * The test runs the agent's real local step on DuckDB twice, the second time without the target person, and checks
 * the difference is exactly k (the target's rows, capped), for k = 1 and 3; without the cap it is 1 000.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileKindJob, type AgentKindContext } from '../../common/kinds/index.js';
import { glmAgentKind } from './agent.js';
import { DROPPED_BLOCK, glmKind, type GlmJobInput } from './index.js';

const PRODUCT = {
  name: 't',
  columns: [
    { name: 'person_id', type: 'BIGINT' },
    { name: 'dob', type: 'INTEGER' },
    { name: 'sbp', type: 'DOUBLE' },
  ],
  privacyUnit: 'person_id',
  description: '',
  source: 'test',
};
const TARGET = 150;
const TARGET_BAD_ROWS = 1000;
let inst: DuckDBInstance;
let conn: DuckDBConnection;
let jobs = 0;
const ctx = (): AgentKindContext => ({ conn, jobId: `j${++jobs}`, round: 0, product: PRODUCT, salt: 's', policy: { minCellSize: 10 }, jobState: new Map() }) as AgentKindContext;

beforeAll(async () => {
  inst = await DuckDBInstance.create(':memory:');
  conn = await inst.connect();
  // 300 persons with one usable row each; every fifth also has 2 rows with a missing outcome; the target has 1 000.
  await conn.run(`CREATE TABLE t AS SELECT i AS person_id, i AS dob, 100.0 + (i * 37) % 60 AS sbp FROM range(300) r(i)
                  UNION ALL SELECT i, i, NULL FROM range(300) r(i), range(2) s(j) WHERE i % 5 = 1
                  UNION ALL SELECT ${TARGET}, ${TARGET}, NULL FROM range(${TARGET_BAD_ROWS})`);
});
afterAll(() => {
  conn?.closeSync();
  inst?.closeSync();
});

const glm = (where: unknown[], mode: string, k: number) =>
  compileKindJob(glmKind, { kind: 'glm', product: 't', family: 'gaussian', outcome: 'sbp', outcomeBounds: [80, 200], covariates: [{ column: 'dob', type: 'numeric', bounds: [0, 300] }], where, privacy: { mode, epsilon: 1, delta: 1e-6, maxRowsPerPerson: k } });
const input = { round: 1, beta: null, nullBeta0: null } as unknown as GlmJobInput;

async function droppedOf(where: unknown[], mode: string, k: number): Promise<number> {
  const job = glm(where, mode, k);
  const v = await glmAgentKind.localStep(ctx(), job, input, new AbortController().signal);
  const layout = glmKind.layout(job as never, 0);
  let at = 0;
  for (const b of layout.blocks) {
    if (b.name === DROPPED_BLOCK) return Number(v.values[at]);
    at += b.length;
  }
  throw new Error('no nDropped block');
}

describe('glm nDropped in the DP modes counts at most k rows per person (red team 29, F1)', () => {
  for (const k of [1, 3]) {
    it(`central-dp, maxRowsPerPerson ${k}: the target moves nDropped by exactly ${k}, within the declared sensitivity`, async () => {
      const layout = glmKind.layout(glm([], 'central-dp', k) as never, 0);
      expect(layout.blocks.find((b) => b.name === DROPPED_BLOCK)?.sensitivity).toEqual({ l1: k, l2Sq: k * k });
      const withTarget = await droppedOf([], 'central-dp', k);
      const without = await droppedOf([{ column: 'dob', op: '!=', value: TARGET }], 'central-dp', k);
      // The 60 other persons with 2 dropped rows each count min(2, k) each.
      expect(without).toBe(60 * Math.min(2, k));
      expect(withTarget - without).toBe(k);
    });
  }
});
