/**
 * Red team 42: per-line complementary suppression of a mode-none contingency table (red team 41's rule) still let one
 * table plus two line totals give a withheld cell of 3 back — rows A, B, C × columns 1, 2: A [3, 15], B [20, 30],
 * C [25, 40]; the rule withheld A1, A2 (row A's complement) and B1 (column 1's), and then B1 = count(g = B) − B2 and
 * A1 = count(x = 1) − B1 − C1 = 3. And the guard had remembered the withheld complement B1 as released, so a later
 * count of exactly its persons was answered. Now a table with a small place is withheld whole at the agent
 * (DataSHIELD's rule) and the guard remembers its places as withheld. No server: the agent's own task entry.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentTask } from '../../common/agent-protocol.js';
import { compileKindJob, decodeVector, encodeRoundPayload, WITHHELD } from '../../common/kinds/index.js';
import { Agent } from '../../node-agent/index.js';
import { contingencyKind } from '../../jobs/contingency/index.js';
import { writeCsvFromSql } from '../helpers/sql-data.js';

const K = 10;
let dir: string;
let agent: Agent;
let seq = 0;
const base = { taskId: '', jobId: '', deadlineMs: 0, round: 0, researcher: 'mallory' };
function seamTask(spec: Record<string, unknown>): AgentTask {
  seq++;
  const job = compileKindJob(contingencyKind, spec);
  return { ...base, taskId: `t${seq}`, jobId: `j${seq}`, deadlineMs: Date.now() + 30_000, kind: spec.kind as string, specJson: JSON.stringify(spec), payload: encodeRoundPayload({ hash: job.hash, input: null }) };
}
function oldTask(spec: Record<string, unknown>): AgentTask {
  seq++;
  return { ...base, taskId: `t${seq}`, jobId: `j${seq}`, deadlineMs: Date.now() + 30_000, kind: spec.kind as string, specJson: JSON.stringify(spec), payload: new Uint8Array() };
}
async function count(where: unknown[]): Promise<number> {
  const r = await agent.handleTask(oldTask({ kind: 'aggregate', product: 'person', where, groupBy: [], measures: [{ fn: 'count' }], privacy: { mode: 'none' } }));
  if (!r.ok) throw new Error(`count refused: ${r.error.code} ${r.error.message}`);
  const t = tableFromIPC(r.arrow);
  return Number(t.getChild('count')!.get(0));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fedmesh-ct-lines-'));
  const data = join(dir, 'data');
  // 133 persons: (A,1) 3, (A,2) 15, (B,1) 20, (B,2) 30, (C,1) 25, (C,2) 40.
  await writeCsvFromSql(data, 'person', `
    WITH spec(g, x, n, off) AS (VALUES ('A', 1, 3, 0), ('A', 2, 15, 3), ('B', 1, 20, 18), ('B', 2, 30, 38), ('C', 1, 25, 68), ('C', 2, 40, 93))
    SELECT off + i AS person_id, 8507 AS gender_concept_id, 1950 AS year_of_birth, g, x FROM spec, range(1, n + 1) r(i)`);
  agent = await Agent.create({ name: 'a1', dataDir: data, stateDir: join(dir, 'state'), coordinator: '127.0.0.1:9', insecure: true, policy: { allowModes: ['none'], allowKinds: ['aggregate', 'contingency'], minCellSize: K } });
}, 60_000);
afterAll(async () => {
  await agent?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('red team 42: a contingency table with a small place shows nothing, and its places stay withheld', () => {
  it('the table with a small cell is withheld whole, zeros and large cells included; control: without the small cell it is released', async () => {
    const spec = { kind: 'contingency', product: 'person', rowColumn: 'g', colColumn: 'x', rowLevels: ['A', 'B', 'C'], colLevels: [1, 2], where: [], privacy: { mode: 'none' } };
    const r = await agent.handleTask(seamTask(spec));
    expect(r.ok, r.ok ? '' : r.error.message).toBe(true);
    const job = compileKindJob(contingencyKind, spec);
    const v = Array.from(decodeVector(contingencyKind.layout(job, 0), r.ok ? r.arrow : new Uint8Array(), 'a1').values).map((x) => (x === WITHHELD ? null : x));
    expect(v).toEqual(Array(8).fill(null));
    // Control: rows B and C only (every place 0 or at least k) are released exactly.
    const bc = { ...spec, rowLevels: ['B', 'C'], where: [{ column: 'g', op: 'in', value: ['B', 'C'] }] };
    // (Another researcher: to this one the guard now refuses these same persons' cells, remembered as withheld.)
    const ok = await agent.handleTask({ ...seamTask(bc), researcher: 'someone-else' });
    expect(ok.ok, ok.ok ? '' : ok.error.message).toBe(true);
    const w = Array.from(decodeVector(contingencyKind.layout(compileKindJob(contingencyKind, bc), 0), ok.ok ? ok.arrow : new Uint8Array(), 'a1').values);
    expect(w).toEqual([20, 30, 25, 40, 0, 0]);
  }, 60_000);

  it('a place the table withheld (B1 = 20 persons) is not answered by a later count of exactly its persons', async () => {
    const b1 = await count([{ column: 'g', op: '=', value: 'B' }, { column: 'x', op: '=', value: 1 }]).then((n) => `answered ${n}`, (e: Error) => `refused: ${e.message.slice(0, 60)}`);
    expect(b1).toMatch(/^refused/);
  }, 60_000);
});
