import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_DATA_KEY_CHARS, MAX_GROUPS_PER_AGENT } from '../../common/job/index.js';
import { estimateResultSize, MAX_AGENT_REPLY_BYTES } from '../../coordinator/admission/result-size.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

/**
 * Issue 15 item 2, leftover: reply size with long text group keys. The agent's reply for data-derived groups was
 * budgeted at 32 bytes a key, yet keys of any length went out: MAX_GROUPS_PER_AGENT groups × 2 columns of 4,000
 * characters of '€' (12 KB each) is ~240 MB, far over the gRPC message limit, so whether a job failed depended on the
 * length of the values an agent held. Now every agent truncates data-derived text keys to MAX_DATA_KEY_CHARS
 * characters before grouping, and admission budgets that bound. Negative control: without the truncation the
 * 10,000-group job below fails (the agent's reply exceeds the message limit) and no group merges.
 */
describe('long data-derived text group keys', () => {
  let mesh: TestMesh;
  const LONG = 4_000;
  /** Distinct within the first MAX_DATA_KEY_CHARS characters, then a long tail of 3-byte characters. */
  const key = (prefix: string, i: number, tail: string): string => `${prefix}${String(i).padStart(6, '0')}`.padEnd(MAX_DATA_KEY_CHARS, '€') + tail.repeat(LONG);

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1'], heartbeatIntervalMs: 2000 });
    const dir = join(mesh.dir, 'data', 'a1');
    await mkdir(dir, { recursive: true });
    const inst = await DuckDBInstance.create(':memory:');
    const conn = await inst.connect();
    try {
      const n = MAX_GROUPS_PER_AGENT;
      // Persons 0..n−2 each in a group of their own; person n−1 shares person 0's first MAX_DATA_KEY_CHARS
      // characters on both columns (tails differ), so the agent sees n − 1 groups after truncation.
      const sql = (prefix: string) =>
        `CASE WHEN i = ${n - 1} THEN '${key(prefix, 0, 'x').slice(0, MAX_DATA_KEY_CHARS)}' || repeat('y', ${LONG}) ELSE rpad('${prefix}' || lpad(i::VARCHAR, 6, '0'), ${MAX_DATA_KEY_CHARS}, '€') || repeat('€', ${LONG}) END`;
      await conn.run(`CREATE TABLE person AS SELECT i + 1 AS person_id, 8507 AS gender_concept_id, 1950 AS year_of_birth, 25.0::DOUBLE AS bmi, ${sql('ward-')} AS ward_source_value, ${sql('unit-')} AS unit_source_value FROM range(${n}) t(i)`);
      await conn.run(`COPY person TO '${join(dir, 'person.csv').replace(/'/g, "''")}' (HEADER, DELIMITER ',')`);
    } finally {
      conn.closeSync();
      inst.closeSync();
    }
    await mesh.startAgent('a1', dir, { allowModes: ['none', 'central-dp'], minCellSize: 1, maxGroups: MAX_GROUPS_PER_AGENT });
    await mesh.waitForAgents(1);
  }, 120_000);
  afterAll(async () => mesh?.close());

  it('admission budgets the public key bound, so 10,000 groups × 2 long text keys fit the reply limit', () => {
    const e = estimateResultSize({ kind: 'aggregate', product: 'person', groupBy: ['ward_source_value', 'unit_source_value'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } } as never, 1);
    // 4 bytes of UTF-8 per character at most, for each data-derived key.
    expect(e.agentReplyBytes).toBeGreaterThanOrEqual(MAX_GROUPS_PER_AGENT * 2 * 4 * MAX_DATA_KEY_CHARS);
    expect(e.agentReplyBytes).toBeLessThanOrEqual(MAX_AGENT_REPLY_BYTES);
  });

  it('10,000 groups of two 4,000-character keys succeed: keys truncated at the agent, merged deterministically, stated in the notes', async () => {
    const r = await mesh.client.run({ kind: 'aggregate', product: 'person', groupBy: ['ward_source_value', 'unit_source_value'], measures: [{ fn: 'count' }], privacy: { mode: 'none' }, timeoutMs: 120_000 });
    expect(r.error, r.error?.message).toBeUndefined();
    const rows = r.result!.rows as { ward_source_value: string; unit_source_value: string; count: number }[];
    expect(rows.length).toBe(MAX_GROUPS_PER_AGENT - 1);
    for (const row of rows) {
      expect([...row.ward_source_value].length).toBeLessThanOrEqual(MAX_DATA_KEY_CHARS);
      expect([...row.unit_source_value].length).toBeLessThanOrEqual(MAX_DATA_KEY_CHARS);
    }
    // Person 0 and the last person agree on the first MAX_DATA_KEY_CHARS characters: one group of 2.
    const merged = rows.find((x) => x.ward_source_value === key('ward-', 0, '').slice(0, MAX_DATA_KEY_CHARS))!;
    expect(merged.unit_source_value).toBe(key('unit-', 0, '').slice(0, MAX_DATA_KEY_CHARS));
    expect(merged.count).toBe(2);
    expect(rows.reduce((s, x) => s + x.count, 0)).toBe(MAX_GROUPS_PER_AGENT);
    expect(r.result!.notes.join(' ')).toMatch(new RegExp(`group keys of ward_source_value, unit_source_value come from the data: text keys are truncated to their first ${MAX_DATA_KEY_CHARS} characters`));
  }, 180_000);

  it('the truncation note is stated whatever the data: also when every key is short', async () => {
    const r = await mesh.client.run({ kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
    expect(r.error).toBeUndefined();
    expect(r.result!.notes.join(' ')).toMatch(/group keys of gender_concept_id come from the data: text keys are truncated/);
  });
});
