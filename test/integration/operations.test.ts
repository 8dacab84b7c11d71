import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportAgentHealth } from '../../client/cli/commands/servers.js';
import { startMetricsServer, type RunningMetricsServer } from '../../common/ops/index.js';
import { clientCredentials, checkHealth, HealthReporter, startHealthServer, clientChannelOptions } from '../../common/transport/index.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { startCoordinatorServer } from '../../coordinator/index.js';
import { Agent, AGENT_HEALTH_SERVICE } from '../../node-agent/index.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

type Line = { source: string; event: string; fields: Record<string, unknown> };

/** Polls `pred` until true (bounded): no fixed sleeps. */
async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Parses the Prometheus text format into `name{labels}` → value (labels sorted as printed). */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+?)(\{.*\})?\s+(\S+)$/.exec(line);
    if (m) out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

/** Issue 14, item 15: job/task log lines, Prometheus metrics and gRPC health on the coordinator and the agent. */
describe('operations: logs, metrics, health', () => {
  let mesh: TestMesh;
  let metrics: RunningMetricsServer;
  const lines: Line[] = [];
  const agents: Agent[] = [];
  const persons = [...makePersons(300, 7, 100_000), ...makePersons(200, 8, 200_000)];
  const spent: number[] = [];

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: ['a1', 'a2'], coordinatorLog: (event, fields = {}) => lines.push({ source: 'coordinator', event, fields }) });
    for (const [i, rows] of [persons.slice(0, 300), persons.slice(300)].entries()) {
      const name = `a${i + 1}`;
      const data = join(mesh.dir, 'data', name);
      await writePersonCsv(data, rows);
      await mkdir(join(mesh.dir, 'agents', name), { recursive: true });
      const agent = await Agent.create({
        name,
        dataDir: data,
        stateDir: join(mesh.dir, 'agents', name),
        coordinator: `127.0.0.1:${mesh.server.port}`,
        tls: loadTlsMaterial(mesh.tlsDir, 'agent', name),
        policy: { allowModes: ['none', 'central-dp'] },
        processMetrics: false,
        log: (event, fields = {}) => lines.push({ source: name, event, fields }),
      });
      agents.push(agent);
      agent.start();
    }
    await mesh.waitForAgents(2);
    metrics = await startMetricsServer({ registry: mesh.coordinator.metrics.registry, port: 0 });
    for (const epsilon of [1, 0.5]) {
      const job = await mesh.client.run({ kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], groupKeys: { gender_concept_id: [8507, 8532] }, measures: [{ fn: 'count' }], privacy: { epsilon } });
      expect(job.error).toBeUndefined();
      spent.push((job.result!.privacy as { spent: { epsilon: number } }).spent.epsilon);
    }
    // One refusal at admission: an ε outside the accepted range.
    await expect(mesh.client.run({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { epsilon: -4 } })).rejects.toMatchObject({ code: 'INVALID_JOB' });
  }, 60_000);

  afterAll(async () => {
    await metrics?.close();
    for (const a of agents) await a.stop();
    await mesh?.close();
  });

  it('logs one line per job and task event with job id, researcher, kind, privacy mode and ε, and nothing from the spec beyond them', async () => {
    await until(() => lines.filter((l) => l.event === 'job-succeeded').length === 2 && lines.filter((l) => l.event === 'task-done').length === 4, 'job and task lines');
    const admitted = lines.filter((l) => l.event === 'job-admitted');
    const succeeded = lines.filter((l) => l.event === 'job-succeeded');
    // ε is what the ledger reserved: the job result's own account of what it spent.
    expect(admitted.map((l) => l.fields.epsilon)).toEqual(spent);
    expect(spent[0]).toBeCloseTo(1, 4);
    expect(spent[1]).toBeCloseTo(0.5, 4);
    for (const l of [...admitted, ...succeeded]) {
      expect(l.fields).toMatchObject({ researcher: 'researcher', kind: 'aggregate', privacyMode: 'central-dp' });
      expect(String(l.fields.jobId)).toMatch(/^[0-9a-f-]{36}$/);
    }
    for (const [i, l] of succeeded.entries()) expect(l.fields).toMatchObject({ jobId: admitted[i]!.fields.jobId, answered: 2, missing: 0 });
    const tasks = lines.filter((l) => l.event === 'task-done');
    expect(new Set(tasks.map((l) => l.source))).toEqual(new Set(['a1', 'a2']));
    for (const l of tasks) expect(l.fields).toMatchObject({ researcher: 'researcher', kind: 'aggregate', privacyMode: 'central-dp' });
    // Agents log the ε the job asked for.
    expect(tasks.map((l) => l.fields.epsilon).sort()).toEqual([0.5, 0.5, 1, 1]);
    const rejected = lines.find((l) => l.event === 'job-rejected')!;
    expect(rejected.fields).toMatchObject({ researcher: 'researcher', code: 'INVALID_JOB' });
    // Nothing else from the spec or the data: not the group keys, not the refused ε, not a person id.
    // Job and task ids are random UUIDs, whose hex can spell any digits ("87850752" holds 8507): compared without them.
    const jobLines = lines.filter((l) => /^(job|task)-/.test(l.event)).map((l) => JSON.stringify(l.fields).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>'));
    expect(jobLines.some((t) => t.includes('<uuid>'))).toBe(true);
    for (const text of jobLines) {
      expect(text).not.toMatch(/8507|8532|:-4\b|gender_concept_id|groupKeys|measures/);
      for (const p of persons.slice(0, 20)) expect(text).not.toContain(String(p.person_id));
    }
  });

  it('serves Prometheus metrics that add up to what the jobs reported, with no researcher label', async () => {
    const res = await fetch(metrics.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    const m = parseMetrics(text);
    const jobs = (outcome: string, mode = 'central-dp'): number | undefined => m.get(`fedmesh_jobs_total{kind="aggregate",privacy_mode="${mode}",outcome="${outcome}"}`);
    expect(jobs('admitted')).toBe(2);
    expect(jobs('succeeded')).toBe(2);
    expect(jobs('failed')).toBeUndefined();
    // A spec that did not validate has no trusted mode: it is counted under "unparsed". Its kind is the registry's
    // (the kind seam chose it by name from a fixed list), so the label stays bounded.
    expect(m.get('fedmesh_jobs_total{kind="aggregate",privacy_mode="unparsed",outcome="rejected"}')).toBe(1);
    expect(m.get('fedmesh_jobs_total{kind="unparsed",privacy_mode="unparsed",outcome="rejected"}')).toBeUndefined();
    expect(jobs('rejected')).toBeUndefined();
    expect(m.get('fedmesh_jobs_running{kind="aggregate"}')).toBe(0);
    expect(m.get('fedmesh_rounds_total{kind="aggregate"}')).toBe(2);
    expect(m.get('fedmesh_agents_live')).toBe(2);
    expect(m.get('fedmesh_job_duration_seconds_count{kind="aggregate",outcome="succeeded"}')).toBe(2);
    // ε spent, independently: the sum of what each job's result says it spent.
    const epsilon = m.get('fedmesh_epsilon_spent_total{kind="aggregate",privacy_mode="central-dp"}')!;
    expect(Math.abs(epsilon - spent.reduce((a, b) => a + b, 0))).toBeLessThan(1e-9);
    expect(epsilon).toBeCloseTo(1.5, 4);
    expect(text).not.toMatch(/researcher=|alice/);
    expect((await fetch(metrics.url.replace('/metrics', '/other'))).status).toBe(404);
    expect((await fetch(metrics.url, { method: 'POST', body: 'x' })).status).toBe(405);
    expect(metrics.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    // Each agent did two aggregate tasks, both ok, and reports a clean ingest and a live link.
    for (const agent of agents) {
      const a = parseMetrics(await agent.metrics.registry.metrics());
      expect(a.get('fedmesh_agent_tasks_total{kind="aggregate",outcome="ok"}')).toBe(2);
      expect(a.get('fedmesh_agent_task_duration_seconds_count{kind="aggregate",outcome="ok"}')).toBe(2);
      expect(a.get('fedmesh_agent_ingest_ok')).toBe(1);
      expect(a.get('fedmesh_agent_connected')).toBe(1);
    }
  });

  it('the coordinator answers the gRPC health service over mTLS, and on a plaintext probe port; NOT_SERVING once it closes', async () => {
    const address = `127.0.0.1:${mesh.server.port}`;
    const tls = loadTlsMaterial(mesh.tlsDir, 'researcher', 'researcher');
    expect(await checkHealth(address, { credentials: clientCredentials(tls), channelOptions: clientChannelOptions(address, true) })).toBe('SERVING');
    expect(await checkHealth(address, { service: 'fedmesh.v1.Coordinator', credentials: clientCredentials(tls), channelOptions: clientChannelOptions(address, true) })).toBe('SERVING');
    expect(await checkHealth(address, { service: 'no.such.Service', credentials: clientCredentials(tls), channelOptions: clientChannelOptions(address, true) })).toBe('SERVICE_UNKNOWN');

    const second = await startCoordinatorServer(mesh.coordinator, { listen: '127.0.0.1:0', tls: undefined, insecure: true });
    const probe = await startHealthServer('127.0.0.1:0', second.health);
    try {
      expect(await checkHealth(probe.address)).toBe('SERVING');
      await second.close();
      expect(await checkHealth(probe.address)).toBe('NOT_SERVING');
    } finally {
      await probe.close();
    }
  });

  it('an agent is NOT_SERVING while its ingest failed or it is not registered, SERVING once both are fixed', async () => {
    const data = join(mesh.dir, 'data', 'a3');
    await writePersonCsv(data, persons.slice(0, 50));
    await writeFile(join(data, 'visit_occurrence.parquet'), Buffer.from('PAR1 this is not a parquet file PAR1'));
    await mkdir(join(mesh.dir, 'agents', 'a3'), { recursive: true });
    const logged: Line[] = [];
    const agent = await Agent.create({ name: 'a3', dataDir: data, stateDir: join(mesh.dir, 'agents', 'a3'), coordinator: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'agent', 'a3'), processMetrics: false });
    const health = new HealthReporter(AGENT_HEALTH_SERVICE);
    reportAgentHealth(agent, health, (event, fields = {}) => logged.push({ source: 'a3', event, fields }));
    const probe = await startHealthServer('127.0.0.1:0', health);
    try {
      expect(agent.health().reasons).toEqual(['ingest failed for 1 file(s) or format(s)', 'not registered with the coordinator']);
      expect(await checkHealth(probe.address)).toBe('NOT_SERVING');
      agent.start();
      // Both sides: the coordinator lists it, and the agent has read the `registered` reply (they race under load).
      await until(() => mesh.coordinator.registry.connected().some((a) => a.name === 'a3') && !agent.health().reasons.includes('not registered with the coordinator'), 'a3 registered');
      // Registered but still half-ingested: not serving.
      expect(agent.health()).toEqual({ serving: false, reasons: ['ingest failed for 1 file(s) or format(s)'] });
      expect(await checkHealth(probe.address, { service: AGENT_HEALTH_SERVICE })).toBe('NOT_SERVING');
      await rm(join(data, 'visit_occurrence.parquet'));
      await agent.refresh();
      expect(await checkHealth(probe.address)).toBe('SERVING');
      expect(await checkHealth(probe.address, { service: AGENT_HEALTH_SERVICE })).toBe('SERVING');
      expect(logged.find((l) => l.event === 'health-changed')?.fields).toEqual({ status: 'SERVING', reasons: [] });
      await agent.stop();
      expect(await checkHealth(probe.address)).toBe('NOT_SERVING');
    } finally {
      await probe.close();
      await agent.stop().catch(() => undefined);
    }
  });
});
