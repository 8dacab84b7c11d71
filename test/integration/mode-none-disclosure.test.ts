import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FedmeshError } from '../../common/errors.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { writeCsvFromSql } from '../helpers/sql-data.js';

/**
 * Issue 8 item 1, as an attacker with a valid researcher certificate over gRPC/mTLS: in mode none, small groups'
 * keys never leave an agent, cell sizes count distinct persons (not rows), and identifying columns cannot be
 * grouped on.
 */
async function refused(p: Promise<unknown>): Promise<FedmeshError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  if (!(e instanceof FedmeshError)) throw new Error(`expected a refusal, got ${String(e)}`);
  return e;
}

/** 60 persons per site; persons 1–3 of each site have 5 rows each of concept 999 (15 rows, 3 persons). */
async function writeSite(dir: string, first: number): Promise<void> {
  await writeCsvFromSql(dir, 'person', `
    SELECT i AS person_id, 'MRN-' || i AS person_source_value, CASE WHEN i % 2 = 0 THEN 8507 ELSE 8532 END AS gender_concept_id,
           1950 + (i % 40) AS year_of_birth, 1 + (i % 12) AS month_of_birth, 1 + (i % 28) AS day_of_birth, 8527 AS race_concept_id,
           make_timestamp(1950 + (i % 40), 1 + (i % 12), 1 + (i % 28), 8, 0, 0) AS birth_datetime
      FROM range(${first}, ${first + 60}) t(i)`);
  await writeCsvFromSql(dir, 'condition_occurrence', `
    SELECT i * 10 + j AS condition_occurrence_id, i AS person_id,
           CASE WHEN i - ${first} < 3 THEN 999 ELSE 201826 END AS condition_concept_id, DATE '2020-01-01' + CAST(j AS INTEGER) AS condition_start_date
      FROM range(${first}, ${first + 60}) t(i), range(0, 5) s(j)`);
}

describe('mode none releases no row-level data (issue 8 item 1)', () => {
  let mesh: TestMesh;

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2'] });
    for (const [i, first] of [1, 1001].entries()) {
      const dir = join(mesh.dir, 'data', `site-${i + 1}`);
      await writeSite(dir, first);
      await mesh.startAgent(`a${i + 1}`, dir);
    }
    await mesh.waitForAgents(2);
  }, 60_000);
  afterAll(async () => mesh?.close());

  it('--group-by person_source_value is refused: an identifier is never a data-dependent group key', async () => {
    const err = await refused(mesh.client.submitJob({ kind: 'aggregate', product: 'person', groupBy: ['person_source_value'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } }));
    expect(err.details.grpcStatus).toBe('PERMISSION_DENIED');
    expect(err.message).toMatch(/groupBy\[0\]: column person_source_value of product person is of semantic type identifier/);
    expect(err.message).not.toMatch(/MRN/);
  });

  it('the agent refuses it too when asked directly, and with public groupKeys it is allowed (nothing below k is shown)', async () => {
    const agent = mesh.agents.get('a1')!;
    const spec = { kind: 'aggregate', product: 'person', where: [], groupBy: ['person_source_value'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } };
    const reply = await agent.handleTask({ taskId: 't1', jobId: 'j1', kind: 'aggregate', specJson: JSON.stringify(spec), deadlineMs: Date.now() + 10_000, round: 0, researcher: 'direct', payload: new Uint8Array() });
    expect(reply.ok).toBe(false);
    expect(!reply.ok && reply.error).toMatchObject({ code: 'POLICY_DENIED', field: 'groupBy[0]' });
    const job = await mesh.client.run({ ...spec, groupKeys: { person_source_value: ['MRN-1', 'MRN-2'] } });
    expect(job.state).toBe('succeeded');
    expect(job.result!.rows).toEqual([]);
    expect(job.result!.suppressed).toEqual([]);
  });

  it('grouping on (date of birth, gender, race) returns nothing identifying: every group is below k persons and withheld entirely', async () => {
    const job = await mesh.client.run({ kind: 'aggregate', product: 'person', groupBy: ['year_of_birth', 'month_of_birth', 'day_of_birth', 'gender_concept_id', 'race_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
    expect(job.state).toBe('succeeded');
    expect(job.result!.rows).toEqual([]);
    expect(job.result!.suppressed).toEqual([]);
    // Only how many groups each agent withheld leaves it: 60 persons, 60 distinct birth dates per site.
    expect(job.result!.privacy.withheldGroups).toEqual({ a1: 60, a2: 60 });
    const text = JSON.stringify(job.result);
    for (const y of [1951, 1975, 1989]) expect(text).not.toContain(String(y));
  });

  it('grouping on birth_datetime is refused (datetime)', async () => {
    const err = await refused(mesh.client.submitJob({ kind: 'aggregate', product: 'person', groupBy: ['birth_datetime'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } }));
    expect(err.details.grpcStatus).toBe('PERMISSION_DENIED');
    expect(err.message).toMatch(/birth_datetime .* semantic type datetime/);
  });

  it('cell sizes count distinct persons, not rows: 15 rows of 3 persons are withheld', async () => {
    const job = await mesh.client.run({ kind: 'aggregate', product: 'condition_occurrence', groupBy: ['condition_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
    expect(job.state).toBe('succeeded');
    expect(job.result!.rows).toEqual([{ condition_concept_id: 201826, count: 2 * 57 * 5 }]);
    expect(job.result!.suppressed).toEqual([]);
    expect(job.result!.privacy.withheldGroups).toEqual({ a1: 1, a2: 1 });
    expect(JSON.stringify(job.result)).not.toContain('999');
  });

  it('histogram bins count distinct persons too: a bin of 15 rows from 3 persons is null', async () => {
    // Another researcher: for this one, all 60 persons next to the 57 of concept 201826 released above would differ
    // by 3 < k persons, which the differencing guard refuses (item 3).
    const alice = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'researcher', 'alice') });
    const job = await alice.run({ kind: 'aggregate', product: 'condition_occurrence', measures: [{ fn: 'histogram', column: 'condition_concept_id', bins: [0, 1000, 300000] }], privacy: { mode: 'none' } });
    alice.close();
    expect(job.error).toBeUndefined();
    // The other bin (570 rows of 57 persons) is withheld too: the count minus it would give the 3 persons back
    // (complementary rule, red team 30).
    expect(job.result!.rows[0]!.histogram_condition_concept_id).toEqual([null, null]);
    const again = await mesh.client.run({ kind: 'aggregate', product: 'condition_occurrence', measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
    expect(again.state).toBe('failed');
    expect(again.error!.message).toMatch(/differencing guard/);
  });

  it('paging condition_occurrence by id ranges is refused or yields nothing below k', async () => {
    const err = await refused(mesh.client.submitJob({ kind: 'aggregate', product: 'condition_occurrence', groupBy: ['condition_occurrence_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } }));
    expect(err.details.grpcStatus).toBe('PERMISSION_DENIED');
    // Ids 10–29 at a1: 10 rows of persons 1 and 2. Enough rows, too few persons: withheld.
    const page = await mesh.client.run({ kind: 'aggregate', product: 'condition_occurrence', where: [{ column: 'condition_occurrence_id', op: 'between', value: [10, 29] }], measures: [{ fn: 'count' }], privacy: { mode: 'none' }, agents: ['a1'] });
    expect(page.state).toBe('succeeded');
    expect(page.result!.rows).toEqual([]);
    // On the kind seam no count of withheld groups leaves an agent: "1 withheld" would tell these 2 persons' group
    // from an empty one (red team 45).
    expect(page.result!.privacy.withheldGroups).toBeUndefined();
    expect(page.result!.notes[0]).toMatch(/a public group absent from the rows had fewer persons than that, or none, at every agent/);
  });

  it('released groups per agent are capped by the domain (maxGroups), refusing the job', async () => {
    const dir = join(mesh.dir, 'data', 'capped');
    await writeSite(dir, 5001);
    await mesh.startAgent('a3', dir, { allowModes: ['none'], maxGroups: 1, minCellSize: 2 });
    await mesh.waitForAgents(3);
    const job = await mesh.client.run({ kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' }, agents: ['a3'] });
    expect(job.state).toBe('failed');
    expect(job.result?.rows ?? []).toEqual([]);
    expect(job.error!.message).toMatch(/a3: groupBy: this job would release more than 1 groups from this agent/);
    await mesh.stopAgent('a3');
  });
});
