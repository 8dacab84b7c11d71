import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, stopAll, waitForLine, type ManagedProcess } from '../../client/cli/commands/spawn-mesh.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { encodeCells } from '../../common/arrow/index.js';
import type { AgentTask, AgentTaskReply } from '../../common/agent-protocol.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { Agent } from '../../node-agent/index.js';
import { hugeLengthReply, nodeVectorBombReply, validCountReply } from '../helpers/hostile-arrow.js';
import { sharedCerts } from '../helpers/mesh.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';

const CLI = resolve(import.meta.dirname, '../../dist/client/cli/main.js');
const BUILT = { cmd: process.execPath, args: [CLI] };
/** The coordinator's RSS may grow by at most this much while refusing every hostile reply below. */
const RSS_BOUND_BYTES = 64 << 20;

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/**
 * Issue 8 #5 over the real transport: the coordinator runs in its own process (so an out-of-memory crash shows as
 * a dead process, not a dead test runner); `a1` is an honest agent, `a2` holds a valid agent certificate and
 * answers every task with the bytes the test chooses.
 */
describe('a hostile agent’s Arrow replies are refused as that agent’s task failure (issue 8 #5)', () => {
  let dir: string;
  let procs: ManagedProcess[] = [];
  let coordPid = 0;
  let client: CoordinatorClient;
  const agents: Agent[] = [];
  let reply: () => Uint8Array = validCountReply;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-hostile-arrow-'));
    const tls = await sharedCerts(['a1', 'a2']);
    const coord = startProcess('coordinator', ['coordinator', '--listen', '127.0.0.1:0', '--state', join(dir, 'coord'), '--tls-dir', tls, '--log-format', 'silent'], BUILT);
    procs.push(coord);
    const address = (await waitForLine(coord, /listening on (\S+)/, 20_000))[1]!;
    coordPid = coord.child.pid!;
    for (const [i, name] of ['a1', 'a2'].entries()) {
      const data = join(dir, 'data', name);
      await writePersonCsv(data, makePersons(50, 20 + i, 1 + i * 1000));
      await mkdir(join(dir, name), { recursive: true });
      const agent = await Agent.create({ name, dataDir: data, stateDir: join(dir, name), coordinator: address, tls: loadTlsMaterial(tls, 'agent', name), policy: { allowModes: ['none'], minCellSize: 1 } });
      if (name === 'a2') {
        // The hostile agent: same certificate and stream, chosen reply bytes.
        agent.serveTask = async (task: AgentTask): Promise<AgentTaskReply> => ({ ok: true, taskId: task.taskId, arrow: reply(), meta: { groups: 1, cellSize: 'persons', minCellSize: 1 } });
      }
      agent.start();
      agents.push(agent);
    }
    client = new CoordinatorClient({ address, tls: loadTlsMaterial(tls, 'researcher', 'researcher'), callTimeoutMs: 30_000 });
    const until = Date.now() + 30_000;
    while ((await client.listAgents()).filter((a) => a.connected).length < 2) {
      if (Date.now() > until) throw new Error('agents did not connect within 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  }, 60_000);
  afterAll(async () => {
    client?.close();
    for (const a of agents) await a.stop();
    await stopAll(procs);
    procs = [];
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // Data-derived groups in mode none: an agent's Arrow partials, the built-in path (ungrouped and public-key jobs in
  // mode none run on the kind seam, whose replies are raw vectors checked against the public layout's byte length).
  const count = { kind: 'aggregate', product: 'person', groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }], privacy: { mode: 'none' } };
  const total = (job: { result?: { rows: Record<string, unknown>[] } }): number => job.result!.rows.reduce((n, r) => n + Number(r.count), 0);
  const garbage = (): Uint8Array => new Uint8Array(2048).map((_, i) => (i * 2654435761) >>> 24);
  const hostile: [string, () => Uint8Array][] = [
    ['the 2^31-row batch header after a valid schema', () => hugeLengthReply(2 ** 31 - 1, 8507)],
    ['a flatbuffer claiming 2^30 field nodes', () => nodeVectorBombReply(2 ** 30, 8507)],
    ['a truncated reply', () => validCountReply(10n, 8507).subarray(0, 300)],
    ['garbage', garbage],
    ['an oversized reply (4 MiB)', () => new Uint8Array(4 << 20)],
    ['a reply with the wrong schema (a cell table)', () => encodeCells({ values: new Map([['x', 1n]]), suppressed: new Set() })],
  ];

  it('sanity: while a2 answers validly, both agents are counted', async () => {
    reply = () => validCountReply(50n, 8507);
    const job = await client.run(count);
    expect(job.state).toBe('succeeded');
    expect(total(job)).toBe(100);
  });

  it.each(hostile)('%s: with quorum 1 the job succeeds without a2, which is named as failed', async (_name, bytes) => {
    reply = bytes;
    const job = await client.run({ ...count, quorum: 1 });
    expect(job.state).toBe('succeeded');
    expect(job.agents.answered).toEqual(['a1']);
    expect(job.agents.missing).toEqual(['a2']);
    expect(total(job)).toBe(50);
    expect(job.result!.agentErrors.a2?.message).toMatch(/agent a2 sent an Arrow result that does not match/);
  });

  it('without a quorum to spare the job fails naming a2, and the coordinator stays up within its memory bound', async () => {
    const before = rssOf(coordPid);
    reply = () => hugeLengthReply(2 ** 31 - 1, 8507);
    for (let i = 0; i < 10; i++) {
      const job = await client.run(count);
      expect(job.state).toBe('failed');
      expect(job.error!.message).toMatch(/a2: agent a2 sent an Arrow result/);
    }
    expect(procs[0]!.child.exitCode).toBeNull();
    expect(rssOf(coordPid) - before).toBeLessThan(RSS_BOUND_BYTES);
    reply = () => validCountReply(50n, 8507);
    expect((await client.run(count)).state).toBe('succeeded');
  });
});
