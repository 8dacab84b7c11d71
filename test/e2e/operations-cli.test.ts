import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, stopAll, waitForLine, type ManagedProcess } from '../../client/cli/commands/spawn-mesh.js';
import { BUILT, CLI, fedmesh } from '../helpers/fedmesh-cli.js';

/** Polls until `fedmesh health` prints `want` (bounded). */
async function healthBecomes(address: string, want: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await fedmesh(['health', address, '--timeout-ms', '1000']);
    if (r.stdout.trim() === want) return;
    if (Date.now() > end) throw new Error(`health of ${address} stayed ${r.stdout.trim()}, wanted ${want}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

const metric = (text: string, name: string): number | undefined => {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};

/** Issue 14, item 15, as an operator runs it: the server flags for logs, metrics and health, and `fedmesh health`. */
describe('operations flags of the fedmesh servers (separate processes)', () => {
  let dir: string;
  const procs: ManagedProcess[] = [];
  let coord: ManagedProcess;
  const at = { coordMetrics: '', coordHealth: '', agentMetrics: '', agentHealth: '' };

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-ops-'));
    expect((await fedmesh(['synth', '--out', join(dir, 'data'), '--sites', '1', '--persons', '200', '--seed', '3'])).code).toBe(0);
    coord = startProcess('coordinator', ['coordinator', '--listen', '127.0.0.1:0', '--state', join(dir, 'coord'), '--insecure', '--log-format', 'json', '--log-level', 'debug', '--metrics-port', '0', '--health-listen', '127.0.0.1:0'], BUILT);
    procs.push(coord);
    const c = await waitForLine(coord, /metrics on (\S+)\nhealth on (\S+)\n[^]*listening on (\S+)/, 20_000);
    [at.coordMetrics, at.coordHealth] = [c[1]!, c[2]!];
    const agent = startProcess('h1', ['agent', '--coordinator', c[3]!, '--name', 'h1', '--data', join(dir, 'data', 'site-1'), '--state', join(dir, 'h1'), '--insecure', '--allow-modes', 'none,central-dp', '--log-format', 'json', '--metrics-port', '0', '--health-listen', '127.0.0.1:0'], BUILT);
    procs.push(agent);
    const a = await waitForLine(agent, /metrics on (\S+)\nhealth on (\S+)/, 60_000);
    [at.agentMetrics, at.agentHealth] = [a[1]!, a[2]!];
  }, 120_000);
  afterAll(async () => {
    await stopAll(procs);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('both servers answer `fedmesh health` SERVING once the agent is registered, and expose metrics on loopback', async () => {
    await healthBecomes(at.agentHealth, 'SERVING');
    expect((await fedmesh(['health', at.coordHealth])).code).toBe(0);
    expect((await fedmesh(['health', at.coordHealth, '--service', 'fedmesh.v1.Coordinator'])).stdout.trim()).toBe('SERVING');
    expect((await fedmesh(['health', at.agentHealth, '--service', 'fedmesh.v1.Agent'])).stdout.trim()).toBe('SERVING');
    expect(at.coordMetrics).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const coordText = await (await fetch(at.coordMetrics)).text();
    expect(metric(coordText, 'fedmesh_agents_live')).toBe(1);
    expect(coordText).toMatch(/^fedmesh_coordinator_process_cpu_user_seconds_total /m);
    const agentText = await (await fetch(at.agentMetrics)).text();
    expect(metric(agentText, 'fedmesh_agent_ingest_ok')).toBe(1);
    expect(metric(agentText, 'fedmesh_agent_connected')).toBe(1);
    expect(metric(agentText, 'fedmesh_agent_products')).toBeGreaterThan(0);
  });

  it('logs JSON lines on stderr with level, time, component and event', () => {
    const lines = coord.stderr().split('\n').filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThan(0);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.find((o) => o.event === 'agent-connected')).toMatchObject({ level: 'info', component: 'coordinator', agent: 'h1' });
  });

  it('an agent whose coordinator is gone turns NOT_SERVING; an unreachable address is reported, exit 1', async () => {
    await stopAll([coord]);
    await healthBecomes(at.agentHealth, 'NOT_SERVING');
    const r = await fedmesh(['health', at.coordHealth, '--timeout-ms', '500']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^UNREACHABLE/);
  });

  it('bad operations flags fail at once, naming the flag', async () => {
    const base = ['coordinator', '--listen', '127.0.0.1:0', '--state', join(dir, 'bad'), '--insecure'];
    const level = await fedmesh([...base, '--log-level', 'loud']);
    expect(level.code).not.toBe(0);
    expect(level.stderr).toMatch(/--log-level/);
    const port = await fedmesh([...base, '--metrics-port', '99999']);
    expect(port.code).not.toBe(0);
    expect(port.stderr).toContain('--metrics-port must be an integer between 0 and 65535');
    const health = await fedmesh([...base, '--health-listen', 'nowhere']);
    expect(health.code).not.toBe(0);
    expect(health.stderr).toContain('--health-listen must be HOST:PORT');
  });
});
