import { status as Status } from '@grpc/grpc-js';
import { runAgentSession, type AgentSessionReport, type WireProduct } from './agent-stream.js';
import { coordinatorCase, describeCase, describeShape, type CoordinatorCase, type KnownIds } from './coordinator-cases.js';
import { FUZZ_AGENT, healthProbe, RESEARCHER, startFuzzMesh, type FuzzMesh } from './fuzz-mesh.js';
import { KNOWN_FAILURES, type KnownFailureGate } from './known-failures.js';
import { FuzzRand } from './rand.js';
import { shrinkSpec } from './shrink.js';
import { COORDINATOR_METHODS, UNSENDABLE, WireClient, type CallOutcome, type CoordinatorMethod } from './wire.js';

/**
 * One fuzz campaign against a real mesh of child processes. Shared by the CI test (bounded counts) and
 * `npm run fuzz -- --minutes N` (bounded time). Fails on: a crash of the coordinator or an agent, a hang (a call
 * past its deadline, a liveness ping that does not answer, a failed health probe after the run), any INTERNAL
 * status, any status that did not come from fedmesh's own handlers (oversized or dropped messages), and growth of
 * the coordinator's resident memory beyond a stated bound.
 */
export interface CampaignOptions {
  seed: number;
  /** Messages per Coordinator method (CI) — or until `deadlineMs` passes. */
  perMethod: number;
  /** Agent-stream sessions (each sends up to `maxMessagesPerSession`). */
  agentSessions: number;
  maxMessagesPerSession: number;
  /** Stop making new messages after this much wall time (the long script). */
  deadlineMs?: number;
  /** Time per Coordinator method (one number for all, or per method); a method stops at its count or its time. */
  methodShareMs?: number | Partial<Record<CoordinatorMethod, number>>;
  /** Time for the agent-stream sessions (at least 3 sessions run). */
  agentShareMs?: number;
  /** Calls in flight at once. @default 6 */
  concurrency?: number;
  /** Deadline of every unary call; longer means a hang. @default 5000 */
  callDeadlineMs?: number;
  /** Allowed growth of the coordinator's VmRSS between warm-up and the end of the run. */
  rssGrowthLimitMiB: number;
  /** After a crash or hang: restart the mesh and go on (the long script), or stop (CI). */
  restartOnFatal: boolean;
  gates?: KnownFailureGate[];
  log?: (line: string) => void;
}

export interface Failure {
  target: string;
  kind: 'crash' | 'hang' | 'INTERNAL' | 'transport' | 'job-INTERNAL' | 'rss' | 'health';
  detail: string;
  /** The (shrunk, truncated) input, or the suspects in flight when a process died or hung. */
  input: string;
}

export interface MethodCounts {
  sent: number;
  byStatus: Record<string, number>;
  gated: number;
  failures: number;
}

export interface CampaignReport {
  seed: number;
  durationMs: number;
  counts: Record<string, MethodCounts>;
  gated: Record<string, number>;
  failures: Failure[];
  rssBeforeMiB: number;
  rssAfterMiB: number;
  restarts: number;
}

const TRUNC = 600;
/** After the run, ListAgents and a count job must succeed within this (agents may still be draining fuzz jobs). */
export const HEALTH_BOUND_MS = 60_000;
/** The pseudo status detail of a job that ended with error code INTERNAL (for known-failure gates). */
export const JOB_INTERNAL = 'job ended with error code INTERNAL';
const cut = (s: string, max = TRUNC): string => (s.length <= max ? s : `${s.slice(0, max)}… (${s.length} characters)`);

function statusName(o: CallOutcome): string {
  return o.code === UNSENDABLE ? 'UNSENDABLE' : `${(Status as unknown as Record<number, string>)[o.code] ?? o.code}${o.fedmeshCode ? `/${o.fedmeshCode}` : ''}`;
}

/** A status fedmesh's handlers would never give for bad input: INTERNAL, or a status the transport made (no fedmesh-code). */
function isBadStatus(o: CallOutcome): boolean {
  if (o.code === Status.OK || o.code === UNSENDABLE) return false;
  if (o.code === Status.INTERNAL) return true;
  return o.fedmeshCode === undefined;
}

export async function runCampaign(opts: CampaignOptions): Promise<CampaignReport> {
  const log = opts.log ?? (() => undefined);
  const gates = opts.gates ?? KNOWN_FAILURES;
  const concurrency = opts.concurrency ?? 6;
  const callDeadlineMs = opts.callDeadlineMs ?? 5_000;
  const started = Date.now();
  const timeLeft = (): boolean => opts.deadlineMs === undefined || Date.now() - started < opts.deadlineMs;
  const root = new FuzzRand(opts.seed);
  const report: CampaignReport = { seed: opts.seed, durationMs: 0, counts: {}, gated: {}, failures: [], rssBeforeMiB: 0, rssAfterMiB: 0, restarts: 0 };
  const seen = new Set<string>();
  const fail = (f: Failure): void => {
    const key = `${f.target}|${f.kind}|${f.detail.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>').slice(0, 120)}`;
    if (seen.has(key)) return;
    seen.add(key);
    report.failures.push({ ...f, input: cut(f.input) });
    log(`FAILURE ${f.kind} on ${f.target}: ${f.detail}\n    input: ${cut(f.input)}`);
  };
  const gateHit = (g: KnownFailureGate): void => {
    report.gated[g.id] = (report.gated[g.id] ?? 0) + 1;
  };

  log(`fuzz seed ${opts.seed}: starting a mesh (coordinator + ${2} agents as child processes, mTLS)`);
  const mesh: FuzzMesh = await startFuzzMesh();
  let clients = connect(mesh);
  const known: KnownIds = { jobIds: [] };
  /** Admitted jobs and the message that made each, so a job that later breaks a read names its input. */
  const admitted = new Map<string, CoordinatorCase>();
  let fatal = false;

  /** Coordinator and agents alive, and the coordinator answering a cheap call within the deadline? */
  const alive = async (): Promise<string | undefined> => {
    const dead = mesh.exited();
    if (dead) return exitReason(dead);
    const ping = await clients.researcher.unary('ListAgents', {}, callDeadlineMs);
    if (ping.code === Status.OK) return undefined;
    // A dying process may hold its port for a while (an out-of-memory death collects garbage first): give it time
    // to be seen as a crash, not a hang.
    const waitMs = ping.code === Status.UNAVAILABLE ? 20_000 : 3_000;
    for (let i = 0; i < waitMs / 100 && !mesh.exited(); i++) await new Promise((res) => setTimeout(res, 100));
    const gone = mesh.exited();
    if (gone) return exitReason(gone);
    return `coordinator does not answer ListAgents within ${callDeadlineMs} ms (${statusName(ping)} ${ping.details})`;
  };
  const restart = async (): Promise<void> => {
    log('restarting the mesh after a crash or hang');
    clients.close();
    await mesh.restart();
    clients = connect(mesh);
    report.restarts++;
  };
  /**
   * A crash or hang. With restarts allowed, each suspect that was in flight is replayed alone on a fresh mesh,
   * so the report names the message that does it (not just what happened to be in flight).
   */
  const onFatal = async (target: string, why: string, suspects: { text: string; replay?: () => Promise<unknown> }[]): Promise<boolean> => {
    const kind = /exited/.test(why) ? 'crash' : 'hang';
    if (!opts.restartOnFatal) {
      fail({ target, kind, detail: why.split('\n')[0]!.slice(0, 300), input: `one of the messages in flight:\n    | ${suspects.map((x) => x.text).join('\n    | ')}` });
      fatal = true;
      return false;
    }
    await restart();
    for (const sus of suspects.slice(0, 4)) {
      if (!sus.replay) continue;
      await sus.replay();
      await new Promise((res) => setTimeout(res, 500));
      const again = await alive();
      if (again) {
        fail({ target, kind: /exited/.test(again) ? 'crash' : 'hang', detail: `${again.split('\n')[0]!.slice(0, 300)} (reproduced by this message alone)`, input: sus.text });
        await restart();
        return true;
      }
    }
    fail({ target, kind, detail: `${why.split('\n')[0]!.slice(0, 300)} (not reproduced by any single message in flight)`, input: suspects.map((x) => x.text).join('\n    | ') });
    return true;
  };

  /**
   * Every admitted job must stay readable: GetJob of each (once it left the coordinator's memory, from the job
   * store) must not fail with INTERNAL or a transport status. Waits a bounded time for running jobs to finish.
   */
  const checkAdmitted = async (): Promise<void> => {
    const until = Date.now() + 15_000;
    for (const [id, c] of admitted) {
      for (;;) {
        const g = await clients.researcher.unary('GetJob', { jobId: id }, callDeadlineMs);
        const state = (g.response as { state?: string } | undefined)?.state;
        if (g.code === Status.OK && (state === 'JOB_STATE_RUNNING' || state === 'JOB_STATE_QUEUED') && Date.now() < until) {
          await new Promise((res) => setTimeout(res, 200));
          continue;
        }
        if (isBadStatus(g) && !gates.some((gt) => gt.tolerate?.(c, g) && (gateHit(gt), true))) {
          report.counts.SubmitJob!.failures++;
          fail({ target: 'GetJob', kind: g.code === Status.INTERNAL ? 'INTERNAL' : 'transport', detail: `GetJob of an admitted job: ${statusName(g)} ${g.details.slice(0, 200)}`, input: `the job was admitted from: ${describeCase(c)}` });
        }
        break;
      }
    }
    admitted.clear();
  };

  try {
    // Warm-up: a few real jobs so the coordinator's steady-state memory is the baseline, not its start-up.
    for (let i = 0; i < 5; i++) {
      await clients.researcher.unary('SubmitJob', { specJson: JSON.stringify({ kind: 'aggregate', product: 'person', where: [], groupBy: [], measures: [{ fn: 'count' }], privacy: { mode: 'none' }, agents: ['h1', 'h2'] }) }, callDeadlineMs);
    }
    report.rssBeforeMiB = mesh.coordinatorRssMiB();
    const products = await realProducts(clients.researcher);

    for (const method of COORDINATOR_METHODS) {
      const counts: MethodCounts = { sent: 0, byStatus: {}, gated: 0, failures: 0 };
      report.counts[method] = counts;
      const r = root.fork(method);
      let made = 0;
      const methodStart = Date.now();
      const share = typeof opts.methodShareMs === 'number' ? opts.methodShareMs : opts.methodShareMs?.[method];
      const methodTime = (): boolean => share === undefined || Date.now() - methodStart < share;
      while (made < opts.perMethod && timeLeft() && methodTime() && !fatal) {
        const batch: CoordinatorCase[] = [];
        while (batch.length < concurrency && made < opts.perMethod) {
          const c = coordinatorCase(method, r, known);
          made++;
          const gate = gates.find((g) => g.skip?.(c));
          if (gate) {
            gateHit(gate);
            counts.gated++;
            continue;
          }
          batch.push(c);
        }
        const outcomes = await Promise.all(batch.map((c) => send(clients, c, callDeadlineMs)));
        let transportTrouble = false;
        for (const [i, o] of outcomes.entries()) {
          const c = batch[i]!;
          counts.sent++;
          const name = statusName(o);
          counts.byStatus[name] = (counts.byStatus[name] ?? 0) + 1;
          if (o.code === Status.OK && method === 'SubmitJob' && o.response) {
            const id = (o.response as { jobId: string }).jobId;
            known.jobIds.push(id);
            if (known.jobIds.length > 200) known.jobIds.shift();
            if (admitted.size < 300) admitted.set(id, c);
          }
          if (!isBadStatus(o)) continue;
          if (method === 'WatchJob' && o.code === Status.DEADLINE_EXCEEDED && (await jobRunning(clients.researcher, String(c.fields?.jobId), callDeadlineMs))) continue;
          const gate = gates.find((g) => g.tolerate?.(c, o));
          if (gate) {
            gateHit(gate);
            counts.gated++;
            continue;
          }
          if (o.code !== Status.INTERNAL) transportTrouble = true;
          else {
            counts.failures++;
            let input = describeCase(c);
            if (c.spec !== undefined && method === 'SubmitJob') {
              const small = JSON.stringify(c.spec).length <= 100_000 ? await shrinkSpec(c.spec, async (s) => (await send(clients, { ...c, fields: { specJson: JSON.stringify(s) } }, callDeadlineMs)).code === Status.INTERNAL, 60) : c.spec;
              input = `SubmitJob ${describeShape(small)} specJson=${JSON.stringify(small)}`;
            }
            fail({ target: method, kind: 'INTERNAL', detail: `INTERNAL: ${o.details}`, input });
          }
        }
        if (transportTrouble || made % 120 < concurrency) {
          const why = await alive();
          if (why) {
            const bad = batch.filter((_, i) => isBadStatus(outcomes[i]!));
            const suspects = [...bad, ...batch.filter((c) => !bad.includes(c))];
            if (!(await onFatal(method, why, suspects.map((c) => ({ text: describeCase(c, 400), replay: () => send(clients, c, callDeadlineMs) }))))) break;
            continue;
          }
          for (const [i, o] of outcomes.entries()) {
            if (!isBadStatus(o) || o.code === Status.INTERNAL) continue;
            if (gates.some((g) => g.tolerate?.(batch[i]!, o))) continue;
            if (method === 'WatchJob' && o.code === Status.DEADLINE_EXCEEDED) continue; // already judged above
            counts.failures++;
            fail({ target: method, kind: o.code === Status.DEADLINE_EXCEEDED ? 'hang' : 'transport', detail: `${statusName(o)}: ${o.details.slice(0, 200)}`, input: describeCase(batch[i]!) });
          }
        }
      }
      if (method === 'SubmitJob' && !fatal) await checkAdmitted();
      log(`${method}: ${counts.sent} sent, ${counts.gated} gated, ${counts.failures} failures — ${JSON.stringify(counts.byStatus)}`);
    }

    const agentCounts: MethodCounts = { sent: 0, byStatus: {}, gated: 0, failures: 0 };
    report.counts.AgentLink = agentCounts;
    const ar = root.fork('agent');
    let sessions = 0;
    const agentStart = Date.now();
    const agentTime = (): boolean => timeLeft() && (opts.agentShareMs === undefined || Date.now() - agentStart < opts.agentShareMs);
    // A timed run keeps at least a few sessions even when the Coordinator methods used up their share.
    for (let s = 0; s < opts.agentSessions && (agentTime() || s < 3) && !fatal; s++) {
      sessions++;
      const arrowAllowed = (what: string): boolean => {
        const gate = gates.find((g) => g.skipArrow?.(what));
        if (gate) {
          gateHit(gate);
          agentCounts.gated++;
        }
        return gate === undefined;
      };
      const rep = await runAgentSession(ar, { agent: clients.agent, researcher: clients.researcher, name: FUZZ_AGENT, products, maxMessages: opts.maxMessagesPerSession, streamDeadlineMs: 30_000, arrowAllowed });
      agentCounts.sent += rep.messages.length;
      const st = rep.status ? statusName(rep.status) : 'closed-by-fuzzer';
      agentCounts.byStatus[st] = (agentCounts.byStatus[st] ?? 0) + 1;
      const summary = (): string => `${rep.sessionKind} session: ${rep.messages.slice(0, 6).map((m) => m.summary).join(' | ')}${rep.messages.length > 6 ? ` | … ${rep.messages.length} messages` : ''}`;
      const why = await alive();
      if (why) {
        if (!(await onFatal('AgentLink', why, rep.messages.filter((m) => m.kind === 'result' || m.kind === 'register').slice(-8).map((m) => ({ text: m.summary }))))) break;
        continue;
      }
      const bad = [...(rep.status && isBadStatus(rep.status) ? [rep.status] : []), ...rep.submitOutcomes];
      for (const o of bad) {
        if (gates.some((g) => g.tolerate?.(rep, o) && (gateHit(g), true))) continue;
        agentCounts.failures++;
        fail({ target: 'AgentLink', kind: o.code === Status.INTERNAL ? 'INTERNAL' : 'transport', detail: `${statusName(o)}: ${o.details.slice(0, 200)}`, input: summary() });
      }
      for (const j of rep.jobs) {
        if (j.errorCode !== 'INTERNAL') continue;
        const o: CallOutcome = { code: Status.INTERNAL, details: JOB_INTERNAL, fedmeshCode: 'INTERNAL', ms: 0, messages: 0 };
        if (gates.some((g) => g.tolerate?.(rep, o) && (gateHit(g), true))) continue;
        agentCounts.failures++;
        fail({ target: 'AgentLink', kind: 'job-INTERNAL', detail: 'a job answered by the hostile agent failed with INTERNAL instead of a task failure naming the agent', input: j.replies.join('\n    | ') });
      }
    }
    log(`AgentLink: ${agentCounts.sent} messages in ${sessions} sessions — ${JSON.stringify(agentCounts.byStatus)}`);

    if (!fatal) {
      const health = await healthProbe(mesh, HEALTH_BOUND_MS);
      if (health) fail({ target: 'mesh', kind: 'health', detail: health, input: 'health probe after the campaign: ListAgents, then a count job on h1,h2' });
      report.rssAfterMiB = mesh.coordinatorRssMiB();
      const growth = report.rssAfterMiB - report.rssBeforeMiB;
      log(`coordinator VmRSS ${report.rssBeforeMiB.toFixed(0)} MiB → ${report.rssAfterMiB.toFixed(0)} MiB (growth ${growth.toFixed(0)} MiB, bound ${opts.rssGrowthLimitMiB} MiB)${report.restarts > 0 ? ' (across restarts: not comparable)' : ''}`);
      if (report.restarts === 0 && growth > opts.rssGrowthLimitMiB) fail({ target: 'coordinator', kind: 'rss', detail: `VmRSS grew by ${growth.toFixed(0)} MiB (bound ${opts.rssGrowthLimitMiB} MiB)`, input: 'the whole campaign' });
    }
  } finally {
    clients.close();
    await mesh.close();
    report.durationMs = Date.now() - started;
  }
  const gatedLines = Object.entries(report.gated).map(([id, n]) => `  ${id}: ${n} (${gates.find((g) => g.id === id)?.description ?? ''})`);
  log(`gated known failures (KNOWN_FAILURES in test/fuzz/known-failures.ts): ${gatedLines.length === 0 ? 'none' : `\n${gatedLines.join('\n')}`}`);
  log(`fuzz seed ${opts.seed}: ${report.failures.length} distinct failures in ${(report.durationMs / 1000).toFixed(1)} s`);
  return report;
}

/** Why a process ended, from the first error line of its stderr (the rest is a stack). */
function exitReason(p: { name: string; child: { exitCode: number | null; signalCode: string | null }; stderr: () => string }): string {
  const lines = p.stderr().split('\n');
  const first = lines.find((l) => /FATAL|Error\b|Error:|heap out of memory/.test(l)) ?? lines.filter(Boolean).pop() ?? '';
  return `${p.name} exited (${p.child.exitCode ?? p.child.signalCode}): ${first.trim().slice(0, 300)}`;
}

interface Clients {
  researcher: WireClient;
  admin: WireClient;
  agent: WireClient;
  close(): void;
}

function connect(mesh: FuzzMesh): Clients {
  const researcher = new WireClient(mesh.address, mesh.tlsDir, 'researcher', RESEARCHER);
  const admin = new WireClient(mesh.address, mesh.tlsDir, 'admin', 'admin');
  const agent = new WireClient(mesh.address, mesh.tlsDir, 'agent', FUZZ_AGENT);
  return { researcher, admin, agent, close: () => [researcher, admin, agent].forEach((c) => c.close()) };
}

function send(clients: Clients, c: CoordinatorCase, deadlineMs: number): Promise<CallOutcome> {
  const client = c.asAdmin ? clients.admin : clients.researcher;
  if (c.raw) return client.rawUnary(c.method, c.raw, deadlineMs);
  if (c.method === 'WatchJob') return client.watch(c.fields, deadlineMs);
  return client.unary(c.method as Exclude<CoordinatorMethod, 'WatchJob'>, c.fields ?? {}, deadlineMs);
}

async function jobRunning(client: WireClient, jobId: string, deadlineMs: number): Promise<boolean> {
  const g = await client.unary('GetJob', { jobId }, deadlineMs);
  const state = (g.response as { state?: string } | undefined)?.state;
  return g.code === Status.OK && (state === 'JOB_STATE_RUNNING' || state === 'JOB_STATE_QUEUED');
}

async function realProducts(client: WireClient): Promise<WireProduct[]> {
  const res = await client.unary('ListAgents', {}, 5_000);
  const agents = (res.response as { agents: { name: string; products: WireProduct[] }[] } | undefined)?.agents ?? [];
  const h1 = agents.find((a) => a.name === 'h1');
  if (!h1) throw new Error('fuzz: agent h1 is not registered');
  return h1.products.map((p) => ({ name: p.name, columns: p.columns.map((c) => ({ name: c.name, type: c.type })), privacyUnit: p.privacyUnit, description: p.description, metadataJson: p.metadataJson }));
}

export type { AgentSessionReport };
