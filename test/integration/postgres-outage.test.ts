/**
 * Issue 13, "a database that goes away mid-job fails that task with a message and the agent reconnects", at the
 * job level: a coordinator and an in-process PostgreSQL-backed agent (the real gRPC stack, test/helpers/mesh.ts)
 * over a small synthetic OMOP CDM in a throw-away PostgreSQL 15. A gaussian glm runs several rounds and reads the
 * server in every one (jobs/glm/agent.ts keeps nothing row-level between rounds), so the outage can be placed in a
 * later round, after a round has already answered.
 *
 * Synchronisation without sleeps: the agent's round-1 task is held (its `serveTask`, the documented seam tests
 * replace) until an admin session holds ACCESS EXCLUSIVE on cdm.person; the task's read of person then blocks, and
 * the test waits until pg_stat_activity shows that backend waiting on the admin's lock (pg_blocking_pids). Then:
 * - control: the lock is released and the job succeeds with the baseline answer (the hook alone fails nothing);
 * - outage: every backend of the agent's role is terminated (pg_terminate_backend), then the lock released. The job
 *   fails, naming the lost connection (node-agent/data/source/postgres-source.ts) and no data; the coordinator and
 *   the agent stay up; the agent dials new backends and the next jobs give the right answer.
 * Skips with a message without the PostgreSQL binaries. Needs no ../shared/data.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentTask } from '../../common/agent-protocol.js';
import type { Agent } from '../../node-agent/index.js';
import { omopTableAnyVersion } from '../../node-agent/data/omop/cdm-spec.js';
import type { JobView } from '../../client/sdk/types.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';
import { makePersons, type PersonRow } from '../helpers/person-data.js';
import { skipWithoutPostgres, startPostgres, type PgCluster } from '../helpers/postgres.js';
import { createReadOnlyRole, createTableSql } from '../helpers/postgres-omop.js';

const noPg = skipWithoutPostgres('the PostgreSQL outage mid-job (agent and coordinator)');

const DB = 'hospital';
const ROLE = 'agent';
const PASSWORD = 'agent-pw-outage';
/** The pool's application_name (node-agent/data/source/postgres-source.ts): the agent's task connections. */
const AGENT_APP = 'fedmesh-agent';
const LOST = /the PostgreSQL connection was lost during the task; the agent reconnects for the next task/;
const POLICY = { allowModes: ['none'] as 'none'[], minCellSize: 1, allowKinds: ['aggregate', 'glm'] };
const GLM = {
  kind: 'glm', product: 'person', family: 'gaussian', outcome: 'year_of_birth',
  covariates: [{ column: 'gender_concept_id', type: 'categorical', levels: [8507, 8532], reference: 8507 }],
  privacy: { mode: 'none' }, timeoutMs: 30_000,
};
const COUNT = { kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' }, timeoutMs: 30_000 };

/** Every column of the spec in both CDM versions, as a conformant CDM DDL has them. */
const cols = (t: string): string[] => omopTableAnyVersion(t)!.columns.filter((c) => c.onlyIn === undefined).map((c) => c.name);

/** Polls `check` (no fixed sleep: a short yield between polls) until it returns a value, or fails naming `what`. */
async function until<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(noPg)('a PostgreSQL backend lost mid-job fails that job with a message; the agent reconnects (issue 13)', () => {
  let pgc: PgCluster;
  let mesh: TestMesh;
  let agent: Agent;
  /** Holds the lock on cdm.person; a second session watches and terminates. */
  let locker: pg.Client;
  let admin: pg.Client;
  let lockerPid = 0;
  let persons: PersonRow[];
  /** Runs before the agent serves a task (the hook that places the lock); undefined: tasks pass straight through. */
  let beforeTask: ((t: AgentTask) => Promise<void>) | undefined;
  /** Every task the agent was given: kind, round and job. */
  const seen: { jobId: string; kind: string; round: number }[] = [];
  let baseline: number[] = [];
  /** The agent's backends the outage terminated. */
  const outage = { terminated: [] as number[] };

  beforeAll(async () => {
    pgc = await startPostgres();
    await pgc.exec(`CREATE DATABASE ${DB}`);
    persons = makePersons(400, 20240613);
    await pgc.exec(['CREATE SCHEMA cdm', ...['person', 'observation_period'].map((t) => createTableSql('cdm', t, cols(t)))].join(';\n'), DB);
    const load = await pgc.admin(DB);
    try {
      await load.query(
        'INSERT INTO cdm.person (person_id, gender_concept_id, year_of_birth, race_concept_id, ethnicity_concept_id) SELECT p, g, y, 0, 0 FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u(p, g, y)',
        [persons.map((p) => p.person_id), persons.map((p) => p.gender_concept_id), persons.map((p) => p.year_of_birth)],
      );
    } finally {
      await load.end();
    }
    await createReadOnlyRole(pgc, DB, ROLE, PASSWORD, ['cdm']);
    locker = await pgc.admin(DB);
    admin = await pgc.admin(DB);
    lockerPid = Number((await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);

    mesh = await startMesh({ agentNames: ['a1'] });
    // The agent reads its manifest from its (otherwise empty) data folder: person open to glm.
    const dataDir = join(mesh.dir, 'site');
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'fedmesh.products.json'), JSON.stringify({ products: { person: { allowedJobKinds: ['aggregate', 'glm'] } } }));
    agent = await mesh.startAgent('a1', dataDir, POLICY, { database: { url: `postgres://${ROLE}@127.0.0.1:${pgc.port}/${DB}`, password: PASSWORD, schema: 'cdm' } });
    const serve = agent.serveTask.bind(agent);
    agent.serveTask = async (t, identity) => {
      seen.push({ jobId: t.jobId, kind: t.kind, round: t.round });
      await beforeTask?.(t);
      return serve(t, identity);
    };
    await mesh.waitForAgents(1, 30_000);
  }, 60_000);

  afterAll(async () => {
    beforeTask = undefined;
    await mesh?.close();
    await locker?.end().catch(() => undefined);
    await admin?.end().catch(() => undefined);
    await pgc?.stop();
  });

  /** The agent role's task backends now on the server. */
  async function agentBackends(): Promise<{ pid: number; state: string | null; waitType: string | null; blockedBy: number[] }[]> {
    const r = await admin.query<{ pid: number; state: string | null; wait_event_type: string | null; blocked_by: number[] }>(
      'SELECT pid, state, wait_event_type, pg_blocking_pids(pid) AS blocked_by FROM pg_stat_activity WHERE datname = $1 AND usename = $2 AND application_name = $3 AND pid <> pg_backend_pid()',
      [DB, ROLE, AGENT_APP],
    );
    return r.rows.map((x) => ({ pid: Number(x.pid), state: x.state, waitType: x.wait_event_type, blockedBy: x.blocked_by.map(Number) }));
  }

  /**
   * Arms a one-shot hook: before the agent serves the glm task of round `round`, the locker takes ACCESS EXCLUSIVE on
   * cdm.person, so the task's first read of person waits on it. Resolves once the lock is held.
   */
  function lockBeforeRound(round: number): Promise<void> {
    return new Promise((resolve, reject) => {
      beforeTask = async (t) => {
        if (t.kind !== 'glm' || t.round !== round) return;
        beforeTask = undefined;
        try {
          await locker.query('BEGIN');
          await locker.query('LOCK TABLE cdm.person IN ACCESS EXCLUSIVE MODE');
          resolve();
        } catch (e) {
          reject(e as Error);
        }
      };
    });
  }

  /** Starts `spec` with the lock placed before its round 1, and returns once the agent's read is blocked on it. */
  async function runBlockedInRound1(spec: unknown, events: unknown[]): Promise<{ running: Promise<JobView>; blockedPid: number }> {
    const locked = lockBeforeRound(1);
    const running = mesh.client.run(spec, (e) => events.push(e));
    // If round 1 never reaches the agent (the job ended first), fail here rather than wait for ever.
    const first = await Promise.race([locked.then(() => 'locked' as const), running.then(() => 'ended' as const)]);
    expect(first, 'the job ended before its round 1 reached the agent').toBe('locked');
    try {
      const blocked = await until(async () => (await agentBackends()).find((b) => b.waitType === 'Lock' && b.blockedBy.includes(lockerPid)), "the agent's read of cdm.person to wait on the lock");
      return { running, blockedPid: blocked.pid };
    } catch (e) {
      // Not blocked as planned: let the job go on (and end) rather than hold the lock until the job's deadline.
      await locker.query('ROLLBACK');
      await running.catch(() => undefined);
      throw e;
    }
  }

  const estimates = (job: JobView): number[] => job.result!.rows.map((r) => Number(r.estimate));

  it('baseline: the glm on the PostgreSQL agent runs several rounds and equals the group means of the data', async () => {
    const job = await mesh.client.run(GLM);
    expect(job.error).toBeUndefined();
    expect(job.state).toBe('succeeded');
    expect(job.agents.answered).toEqual(['a1']);
    // Several rounds, each a task that reads the server: the outage below can land after a round has answered.
    const rounds = seen.filter((s) => s.jobId === job.jobId && s.kind === 'glm').map((s) => s.round);
    expect(rounds.length).toBeGreaterThanOrEqual(2);
    expect(rounds).toContain(1);
    // One categorical covariate: intercept = mean(male), slope = mean(female) − mean(male).
    const mean = (g: number): number => {
      const ys = persons.filter((p) => p.gender_concept_id === g).map((p) => p.year_of_birth);
      return ys.reduce((s, y) => s + y, 0) / ys.length;
    };
    baseline = estimates(job);
    expect(baseline).toHaveLength(2);
    expect(baseline[0]).toBeCloseTo(mean(8507), 6);
    expect(baseline[1]).toBeCloseTo(mean(8532) - mean(8507), 6);
    expect(Math.abs(baseline[1]!)).toBeGreaterThan(1e-6);
  });

  it('control: the same round blocked on the lock and then let through succeeds with the baseline answer (the hook alone fails nothing)', async () => {
    const { running, blockedPid } = await runBlockedInRound1(GLM, []);
    expect(blockedPid).toBeGreaterThan(0);
    await locker.query('ROLLBACK');
    const job = await running;
    expect(job.error).toBeUndefined();
    expect(job.state).toBe('succeeded');
    expect(estimates(job)).toEqual(baseline);
  });

  it("outage: the agent's backends terminated while its round-1 read waits fail the job, naming the lost connection and no data; coordinator and agent stay up", async () => {
    const events: unknown[] = [];
    const { running, blockedPid } = await runBlockedInRound1(GLM, events);
    try {
      const r = await admin.query<{ pid: number; terminated: boolean }>(
        'SELECT pid, pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE datname = $1 AND usename = $2 AND application_name = $3 AND pid <> pg_backend_pid()',
        [DB, ROLE, AGENT_APP],
      );
      outage.terminated = r.rows.filter((x) => x.terminated).map((x) => Number(x.pid));
    } finally {
      // Released only after the terminate: the blocked read can never go on.
      await locker.query('ROLLBACK');
    }
    const job = await running;
    // The terminate hit the agent's backends, the blocked one among them (else nothing below proves anything).
    expect(outage.terminated.length).toBeGreaterThan(0);
    expect(outage.terminated).toContain(blockedPid);
    await until(async () => ((await agentBackends()).some((b) => outage.terminated.includes(b.pid)) ? undefined : true), 'the terminated backends to exit');

    // The job failed in its second round, after the first had answered: the agent's task failed with its message.
    // Rounds are counted from 1 in both texts: the second round is "round 2".
    expect(job.state).toBe('failed');
    expect(job.error?.code).toBe('QUORUM_NOT_MET');
    expect(job.error?.message).toMatch(/^round 2: 1 of 1 agents did not answer \(a1: AGENT_UNAVAILABLE: /);
    expect(job.error?.message).toMatch(LOST);
    expect(job.agents.answered).toEqual([]);
    expect(seen.filter((s) => s.jobId === job.jobId).map((s) => s.round)).toEqual([0, 1]);
    const told = events as { type: string; agent?: string; message?: string }[];
    const perAgent = told.filter((e) => e.agent === 'a1' && (e.type === 'agent-answered' || e.type === 'agent-failed'));
    expect(perAgent.map((e) => e.type)).toEqual(['agent-answered', 'agent-failed']);
    expect(perAgent[1]!.message).toMatch(/^round 2: AGENT_UNAVAILABLE: /);
    expect(perAgent[1]!.message).toMatch(LOST);
    // What reaches the researcher names no data: not the driver's or server's text, no SQL, no value of the rows.
    const text = JSON.stringify({ error: job.error, result: job.result, events });
    for (const leak of ['terminating connection', 'administrator command', '57P01', 'SELECT', 'cdm.person', 'year_of_birth =']) expect(text).not.toContain(leak);
    const messages = [job.error!.message, ...told.map((e) => e.message ?? '')].join('\n');
    for (const y of new Set(persons.map((p) => String(p.year_of_birth)))) expect(messages).not.toContain(y);

    // Both servers are still up: the agent is registered and serving, the coordinator lists it.
    expect(mesh.coordinator.registry.connected().map((a) => a.name)).toContain('a1');
    expect(agent.health()).toEqual({ serving: true, reasons: [] });
  });

  it('after the outage: the agent dials new backends, and the next jobs on it give the right answer', async () => {
    expect(outage.terminated.length, 'the outage test ran first').toBeGreaterThan(0);
    const job = await mesh.client.run(GLM);
    expect(job.error).toBeUndefined();
    expect(job.state).toBe('succeeded');
    expect(job.agents.answered).toEqual(['a1']);
    expect(estimates(job)).toEqual(baseline);
    const counts = await mesh.client.run(COUNT);
    expect(counts.error).toBeUndefined();
    const byGender = Object.fromEntries(counts.result!.rows.map((r) => [Number(r.gender_concept_id), Number(r.count)]));
    expect(byGender).toEqual({ 8507: persons.filter((p) => p.gender_concept_id === 8507).length, 8532: persons.filter((p) => p.gender_concept_id === 8532).length });
    // The pool reconnected: the agent's backends now are new ones, none of those terminated.
    const now = (await agentBackends()).map((b) => b.pid);
    expect(now.length).toBeGreaterThan(0);
    for (const pid of now) expect(outage.terminated).not.toContain(pid);
  });
});
