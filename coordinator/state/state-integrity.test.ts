/**
 * Issue 8 item 13, in process: what the start-up check makes of an edited ledger, a state from before the chain,
 * a head one entry behind (a crash between commit and head write), and loose file modes.
 */
import { chmodSync, closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../common/job/index.js';
import { Coordinator } from '../coordinator.js';
import type { JobRecord } from '../job-record.js';
import { checkCoordinatorState } from './check-state.js';
import { editState, withStateDb } from '../../test/helpers/state-db.js';

const SPEC = parseJobSpec({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 0.5 } });

function jobRecord(id: string): JobRecord {
  return { id, kind: 'aggregate', researcher: 'alice', spec: SPEC, state: 'succeeded', createdAtMs: 1, finishedAtMs: 2, agentsAsked: [], agentsAnswered: [], agentsMissing: [], result: undefined, error: undefined };
}

describe('coordinator state integrity at start', () => {
  let dir: string;
  let state: string;
  let events: Array<{ event: string; fields: Record<string, unknown> | undefined }>;
  const log = (event: string, fields?: Record<string, unknown>): void => {
    events.push({ event, fields });
  };

  /** A state with two committed charges, one open reservation (committed at the next start) and a budget. */
  async function seed(): Promise<void> {
    const c = await Coordinator.create({ stateDir: state, log });
    await c.setBudget('admin', true, 'alice', { population: 'person' }, { epsilon: 5, delta: 1e-6 });
    for (const id of ['job-1', 'job-2', 'job-3']) await c.ledger.admit(jobRecord(id), [{ population: 'person', products: ['person'] }], { rho: 0.125, epsilon: 0.5, delta: 0 });
    await c.ledger.commit('job-1');
    await c.ledger.commit('job-2');
    await c.close();
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-integrity-'));
    state = join(dir, 'state');
    events = [];
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a sound state starts again and reports its chain', async () => {
    await seed();
    const c = await Coordinator.create({ stateDir: state, log });
    const [entry] = await c.ledger.report('alice', 'person');
    expect(entry!.jobs).toBe(3);
    expect(entry!.reserved).toBe(0);
    await c.close();
    const check = await checkCoordinatorState(state);
    expect(check.problems).toEqual([]);
    // budget, 3 reservations, 2 commits, 1 commit at the first restart.
    expect(check.report!.chain).toMatchObject({ present: true, ok: true, entries: 7 });
  });

  it.each([
    ['a charge made cheaper', `UPDATE population_charges SET rho = rho / 2 WHERE job_id = 'job-2'`, /charge of job job-2 on population person differs from the ledger chain/],
    ['a charge moved to another population', `UPDATE population_charges SET population = 'device' WHERE job_id = 'job-2'`, /charge of job job-2 on population device is not in the ledger chain/],
    ['a charge deleted', `DELETE FROM population_charges WHERE job_id = 'job-1'`, /charge of job job-1 on population person is in the ledger chain but missing from the population_charges table/],
    ['a budget raised', `UPDATE population_budgets SET epsilon = 50`, /budget of alice on population person differs from the ledger chain/],
    ['the chain dropped with the head file kept', `DROP TABLE ledger_chain`, /no ledger chain but the head file is at entry 7/],
    ['a chain entry rewritten', `UPDATE ledger_chain SET entry = replace(entry, '0.125', '0.0625') WHERE seq = 2`, /ledger chain entry 2: hash does not match/],
    ['the chain tail dropped with the rows it covers', `DELETE FROM ledger_chain WHERE seq >= 6`, /ledger chain ends at entry 5 but the head file says 7/],
    ['a job removed from the job store', `DELETE FROM jobs WHERE id = 'job-3'`, /charge of job job-3 has no job in the job store/],
  ])('refuses to start after %s', async (_what, statement, message) => {
    await seed();
    await Coordinator.create({ stateDir: state, log }).then((c) => c.close());
    await editState(state, [statement]);
    const err = await Coordinator.create({ stateDir: state, log }).then(
      async (c) => {
        await c.close();
        return undefined;
      },
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err?.code).toBe('FAILED_PRECONDITION');
    expect(err?.message).toMatch(/refusing to start/);
    expect(err?.message).toMatch(message);
    const check = await checkCoordinatorState(state);
    expect(check.ok).toBe(false);
    expect(check.problems.join('\n')).toMatch(message);
  });

  it('refuses to start whichever block of the database file is damaged (each table is read in full at start)', async () => {
    await seed();
    await Coordinator.create({ stateDir: state, log }).then((c) => c.close());
    const clean = join(dir, 'clean');
    cpSync(state, clean, { recursive: true });
    expect(existsSync(join(clean, 'coordinator.duckdb.wal'))).toBe(false);
    // The blocks that hold table data (a file also has free blocks from earlier checkpoints: damage there is harmless).
    const used = new Map<number, number>();
    await withStateDb(clean, async (conn) => {
      for (const t of ['jobs', 'population_budgets', 'population_charges', 'ledger_chain']) {
        const rows = (await conn.runAndReadAll(`SELECT block_id, min(block_offset) AS o FROM pragma_storage_info('${t}') WHERE persistent AND block_id >= 0 GROUP BY 1`)).getRowObjectsJS();
        for (const r of rows) used.set(Number(r.block_id), Number(r.o));
      }
    }, { readOnly: true });
    // Three 4 KiB file headers, then 256 KiB blocks (8-byte checksum first): damage one block at a time.
    const blocks = [...used.entries()].sort((a, b) => a[0] - b[0]).map(([id, o]) => 12_288 + id * 262_144 + 8 + o);
    expect(blocks.length).toBeGreaterThan(1);
    const outcomes: string[] = [];
    for (const [i, off] of blocks.entries()) {
      const copy = join(dir, `damaged-${i}`);
      cpSync(clean, copy, { recursive: true });
      const fd = openSync(join(copy, 'coordinator.duckdb'), 'r+');
      writeSync(fd, Buffer.alloc(64, 0xab), 0, 64, off);
      closeSync(fd);
      const err = await Coordinator.create({ stateDir: copy, log }).then(
        async (c) => {
          await c.close();
          return undefined;
        },
        (e: unknown) => e as { code: string; message: string },
      );
      outcomes.push(err ? `${err.code} ${/Corrupt database file/.test(err.message) ? 'corrupt' : err.message}` : 'started');
    }
    expect(outcomes).toEqual(blocks.map(() => 'FAILED_PRECONDITION corrupt'));
  });

  it('refuses population tables whose chain and head file were both removed (not a state from before the chain)', async () => {
    await seed();
    await editState(state, ['DROP TABLE ledger_chain']);
    rmSync(join(state, 'ledger-head.json'));
    const check = await checkCoordinatorState(state);
    expect(check.ok).toBe(false);
    expect(check.problems.join('\n')).toMatch(/per-population ledger tables but no ledger chain/);
    await expect(Coordinator.create({ stateDir: state, log })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
  });

  it('a head file behind the chain (crash between commit and head write, deferred commit writes) is advanced, not refused', async () => {
    await seed();
    const headFile = join(state, 'ledger-head.json');
    const c = await Coordinator.create({ stateDir: state, log });
    await c.setBudget('admin', true, 'bob', { population: 'person' }, { epsilon: 1, delta: 1e-6 });
    await c.close();
    // 7 entries after the seed and the restart's commit of job-3, then the budget of bob.
    expect(JSON.parse(readFileSync(headFile, 'utf8'))).toMatchObject({ seq: 8 });
    // Roll the head back by two entries: the chain still reaches it, so nothing was lost.
    const prev = await withStateDb(state, async (conn) => (await conn.runAndReadAll('SELECT hash FROM ledger_chain WHERE seq = 6')).getRowObjectsJS()[0]!.hash);
    writeFileSync(headFile, JSON.stringify({ version: 1, seq: 6, hash: prev }));
    events = [];
    const c3 = await Coordinator.create({ stateDir: state, log });
    await c3.close();
    expect(events.filter((e) => e.event === 'ledger-head-advanced')).toEqual([{ event: 'ledger-head-advanced', fields: { seq: 8 } }]);
    expect(JSON.parse(readFileSync(headFile, 'utf8'))).toMatchObject({ seq: 8 });
  });

  it('tightens a loose state folder and files to 0700 / 0600 and says so', async () => {
    mkdirSync(state, { mode: 0o755 });
    chmodSync(state, 0o755);
    await seed();
    for (const f of ['coordinator.duckdb', 'ledger-head.json']) chmodSync(join(state, f), 0o644);
    chmodSync(state, 0o755);
    events = [];
    const c = await Coordinator.create({ stateDir: state, log });
    await c.close();
    expect(statSync(state).mode & 0o777).toBe(0o700);
    for (const f of ['coordinator.duckdb', 'ledger-head.json']) expect(statSync(join(state, f)).mode & 0o777).toBe(0o600);
    expect(events.filter((e) => e.event === 'state-mode-tightened').map((e) => e.fields!.mode).sort()).toEqual(['0600', '0600', '0700']);
  });
});
