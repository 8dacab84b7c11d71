import type * as grpc from '@grpc/grpc-js';
import { encodeCells, encodePartials } from '../../common/arrow/index.js';
import { awkwardString, mutateText } from './mutate.js';
import type { FuzzRand } from './rand.js';
import type { CallOutcome, WireClient } from './wire.js';

/**
 * The fuzzer as a valid (certificate-holding) but hostile agent on the AgentLink stream: registrations with
 * hostile contents, heartbeats, results and failures for real and bogus task ids with random or mutated Arrow bytes
 * and meta_json, and messages out of order. Real task ids come from jobs the fuzzer submits to itself.
 */
export interface WireProduct {
  name: string;
  columns: { name: string; type: string }[];
  privacyUnit: string;
  description: string;
  metadataJson: string;
}

export interface AgentMessageRecord {
  kind: string;
  summary: string;
}

export interface AgentSessionReport {
  sessionKind: string;
  messages: AgentMessageRecord[];
  /** How the stream ended: its status, or undefined if the fuzzer closed it first. */
  status: CallOutcome | undefined;
  registered: boolean;
  tasksReceived: number;
  /** Final state of the jobs submitted to this agent, with what the fuzzer answered to each job's tasks. */
  jobs: { jobId: string; state: string; errorCode: string; replies: string[] }[];
  /** Submissions the coordinator answered with a non-fedmesh status (INTERNAL, transport errors). */
  submitOutcomes: CallOutcome[];
}

const TASK_SPECS = [
  { kind: 'aggregate', product: 'person', where: [], groupBy: [], measures: [{ fn: 'count' }], privacy: { mode: 'none' } },
  { kind: 'aggregate', product: 'person', where: [], groupBy: ['gender_concept_id'], measures: [{ fn: 'count' }, { fn: 'mean', column: 'year_of_birth', bounds: [1900, 2030] }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } },
  { kind: 'aggregate', product: 'person', where: [], groupBy: [], measures: [{ fn: 'histogram', column: 'year_of_birth', bins: [1900, 1950, 2000, 2030] }], privacy: { mode: 'none' } },
  { kind: 'contingency', product: 'person', rowColumn: 'gender_concept_id', colColumn: 'race_concept_id', rowLevels: [8507, 8532], colLevels: [8527, 0], privacy: { mode: 'none' } },
];

/** Arrow bytes an agent could send: well-formed tables with hostile values, damaged tables, or noise. */
export function hostileArrow(r: FuzzRand): { bytes: Uint8Array; what: string } {
  const count = r.pick([0n, 1n, 7n, -1n, 2n ** 62n, 2n ** 63n - 1n, -(2n ** 63n)]);
  const bases: [string, () => Uint8Array][] = [
    ['partials count', () => encodePartials([{ key: [], count, measures: [{ kind: 'count' }], suppressedBy: [] }], 0, [{ kind: 'count' }])],
    ['partials grouped', () => encodePartials(Array.from({ length: r.pick([1, 2, 50]) }, (_, i) => ({ key: [r.chance(0.5) ? 8507 + i : awkwardString(r).slice(0, 200)], count, measures: [{ kind: 'count' }, { kind: 'moments', n: count, sum: count * 3n, sumSq: count * 9n, scaleBits: 16, sqScaleBits: 32 }], suppressedBy: r.chance(0.2) ? ['x'] : [] })), 1, [{ kind: 'count' }, { kind: 'moments', scaleBits: 16, sqScaleBits: 32 }])],
    ['cells', () => encodeCells({ values: new Map(Array.from({ length: r.pick([1, 4, 300]) }, (_, i) => [r.chance(0.7) ? `persons` : `${awkwardString(r).slice(0, 100)}${i}`, count] as [string, bigint])), suppressed: new Set() })],
  ];
  const [name, make] = r.pick(bases);
  const base = make();
  switch (r.int(7)) {
    case 0:
    case 1:
      return { bytes: base, what: `${name} count=${count}` };
    case 2: {
      const b = Uint8Array.from(base);
      const flips = r.range(1, 8);
      for (let i = 0; i < flips; i++) b[r.int(b.length)] = r.int(256);
      return { bytes: b, what: `${name} with ${flips} bytes overwritten` };
    }
    case 3:
      return { bytes: base.slice(0, r.int(base.length)), what: `${name} truncated` };
    case 4: {
      // Overwrite one little-endian 32- or 64-bit word (lengths, offsets, counts in the IPC metadata) with a huge value.
      const b = Uint8Array.from(base);
      const at = r.int(Math.max(1, b.length - 8)) & ~3;
      const v = r.pick([0xffffffff, 0x7fffffff, 0x10000000]);
      new DataView(b.buffer).setUint32(at, v, true);
      return { bytes: b, what: `${name} with word at ${at} = 0x${v.toString(16)}` };
    }
    case 5:
      return { bytes: Buffer.concat([base, r.chance(0.5) ? base : r.bytes(r.int(500))]), what: `${name} with trailing bytes` };
    default:
      return { bytes: r.bytes(r.pick([0, 1, 8, 472, 4_096])), what: 'noise' };
  }
}

function hostileMeta(r: FuzzRand): string {
  const base = JSON.stringify({ suppressedGroups: 0, contributionBounded: true, rowsScanned: 100 });
  switch (r.int(5)) {
    case 0:
      return base;
    case 1:
      return mutateText(r, base);
    case 2:
      return '['.repeat(r.pick([100, 10_000])) + ']'.repeat(r.pick([0, 100]));
    case 3:
      return JSON.stringify({ suppressedGroups: awkwardString(r), contributionBounded: r.pick([false, 'yes', null]), rowsScanned: r.pick([-1, 1e300, Number.MAX_SAFE_INTEGER]) });
    default:
      return '';
  }
}

function hostileRegister(r: FuzzRand, name: string, products: WireProduct[]): { msg: Record<string, unknown>; summary: string } {
  const policy = JSON.stringify({ minCellSize: 5, allowModes: ['none', 'central-dp', 'local-dp'], allowKinds: [] });
  const mutateProduct = (p: WireProduct): WireProduct => {
    const q = { ...p, columns: [...p.columns] };
    switch (r.int(6)) {
      case 0:
        q.name = awkwardString(r);
        break;
      case 1:
        q.columns = Array.from({ length: r.pick([0, 1_000, 20_000]) }, (_, i) => ({ name: `c${i}`, type: r.pick(['BIGINT', 'VARCHAR', awkwardString(r).slice(0, 50)]) }));
        break;
      case 2:
        q.metadataJson = mutateText(r, p.metadataJson);
        break;
      case 3:
        q.privacyUnit = awkwardString(r);
        break;
      case 4:
        q.columns = q.columns.map((c) => ({ name: r.chance(0.3) ? awkwardString(r).slice(0, 300) : c.name, type: r.chance(0.3) ? awkwardString(r).slice(0, 50) : c.type }));
        break;
      default:
        q.description = awkwardString(r);
    }
    return q;
  };
  let list = products.map((p) => (r.chance(0.3) ? mutateProduct(p) : p));
  let what = 'mutated products';
  if (r.chance(0.2)) {
    const n = r.pick([200, 2_000, 10_000]);
    list = Array.from({ length: n }, (_, i) => ({ ...products[i % products.length]!, name: `p${i}` }));
    what = `${n} products`;
  }
  const reg: Record<string, unknown> = {
    name: r.chance(0.8) ? name : awkwardString(r),
    domain: r.chance(0.7) ? 'fuzz' : awkwardString(r),
    version: r.chance(0.7) ? '0.1.0' : awkwardString(r),
    policyJson: r.chance(0.5) ? policy : r.chance(0.5) ? mutateText(r, policy) : JSON.stringify({ minCellSize: r.pick([-1, 0, 1e300, 'x']), allowModes: r.pick([['none'], 'none', [1, 2], []]), allowKinds: r.pick([[], ['x'], null]) }),
    products: list,
  };
  if (r.chance(0.2)) {
    reg.identityPublicKey = Buffer.from(r.bytes(r.pick([0, 32, 33, 10_000])));
    reg.identitySignature = Buffer.from(r.bytes(r.pick([0, 64, 1_000])));
    reg.certificatePem = r.pick(['', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', awkwardString(r)]);
    what += ', hostile identity';
  }
  return { msg: { register: reg }, summary: `register name=${String(reg.name).slice(0, 40)} ${what} policy=${String(reg.policyJson).slice(0, 80)}` };
}

function validRegister(name: string, products: WireProduct[]): Record<string, unknown> {
  return { register: { name, domain: 'fuzz', version: '0.1.0', policyJson: JSON.stringify({ minCellSize: 5, allowModes: ['none', 'central-dp', 'local-dp'], allowKinds: [] }), products } };
}

function strayMessage(r: FuzzRand, taskIds: string[], arrow: () => { bytes: Uint8Array; what: string } = () => hostileArrow(r)): { msg: Record<string, unknown>; kind: string; summary: string } {
  const taskId = taskIds.length > 0 && r.chance(0.3) ? r.pick(taskIds) : r.pick(['', 'no-such-task', awkwardString(r)]);
  switch (r.int(5)) {
    case 0:
      return { msg: { heartbeat: { sentAtMs: r.pick(['0', '-1', '9223372036854775807', String(Date.now())]) } }, kind: 'heartbeat', summary: 'heartbeat' };
    case 1: {
      const a = arrow();
      return { msg: { result: { taskId, arrowIpc: Buffer.from(a.bytes), metaJson: hostileMeta(r), payload: Buffer.from(r.chance(0.2) ? r.bytes(r.pick([1, 1_000])) : []) } }, kind: 'result', summary: `result task=${taskId.slice(0, 40)} ${a.what}` };
    }
    case 2:
      return { msg: { failure: { taskId, error: r.chance(0.5) ? { code: r.pick(['INTERNAL', 'POLICY_DENIED', '', awkwardString(r)]), message: awkwardString(r), field: awkwardString(r) } : null } }, kind: 'failure', summary: `failure task=${taskId.slice(0, 40)}` };
    case 3:
      return { msg: {}, kind: 'empty', summary: 'empty AgentMessage' };
    default:
      return { msg: { register: { name: 'fz', domain: '', version: '', policyJson: '', products: [] } }, kind: 'register-again', summary: 'second register' };
  }
}

export interface AgentSessionOptions {
  agent: WireClient;
  researcher: WireClient;
  name: string;
  products: WireProduct[];
  /** Upper bound on messages sent in one session. */
  maxMessages: number;
  /** Deadline of the whole stream. */
  streamDeadlineMs: number;
  /** Whether Arrow bytes described by `what` may be sent (known-failure gates); a refused draw is counted and redrawn. */
  arrowAllowed?: (what: string) => boolean;
}

/** Runs one agent session and reports what happened; never throws for what the coordinator does. */
export async function runAgentSession(r: FuzzRand, o: AgentSessionOptions): Promise<AgentSessionReport> {
  const arrow = (): { bytes: Uint8Array; what: string } => {
    for (;;) {
      const a = hostileArrow(r);
      if (!o.arrowAllowed || o.arrowAllowed(a.what)) return a;
    }
  };
  const call = o.agent.agentLink.connect(undefined, { deadline: Date.now() + o.streamDeadlineMs });
  const report: AgentSessionReport = { sessionKind: '', messages: [], status: undefined, registered: false, tasksReceived: 0, jobs: [], submitOutcomes: [] };
  const taskIds: string[] = [];
  const repliesByJob = new Map<string, string[]>();
  let closedByUs = false;
  const t0 = Date.now();
  const ended = new Promise<void>((resolve) => {
    call.on('status', (s: grpc.StatusObject) => {
      const fc = s.metadata?.get('fedmesh-code')[0];
      report.status = closedByUs && s.code === 1 ? undefined : { code: s.code, details: s.details, fedmeshCode: typeof fc === 'string' ? fc : undefined, ms: Date.now() - t0, messages: 0 };
      resolve();
    });
    call.on('error', () => undefined);
  });
  let registeredWaiter: (() => void) | undefined;
  const registered = new Promise<void>((res) => (registeredWaiter = res));
  const send = (msg: Record<string, unknown>, kind: string, summary: string): void => {
    if (report.messages.length >= o.maxMessages) return;
    try {
      call.write(msg);
      report.messages.push({ kind, summary });
    } catch (e) {
      report.messages.push({ kind: 'unsendable', summary: `${summary}: ${(e as Error).message}` });
    }
  };
  call.on('data', (m: Record<string, unknown>) => {
    if (m.registered) {
      report.registered = true;
      registeredWaiter?.();
    }
    const task = m.task as { taskId: string; jobId: string } | undefined;
    if (task) {
      const replies = repliesByJob.get(task.jobId) ?? [];
      repliesByJob.set(task.jobId, replies);
      report.tasksReceived++;
      taskIds.push(task.taskId);
      // Answer a real task: once, twice, late, as a failure, or not at all (the job's deadline must handle it).
      const how = r.int(6);
      const answer = (): void => {
        if (how === 5) {
          send({ failure: { taskId: task.taskId, error: { code: r.pick(['POLICY_DENIED', 'INTERNAL', awkwardString(r)]), message: awkwardString(r), field: '' } } }, 'failure', `failure for real task`);
          replies.push('TaskFailure');
          return;
        }
        const a = arrow();
        const meta = hostileMeta(r);
        send({ result: { taskId: task.taskId, arrowIpc: Buffer.from(a.bytes), metaJson: meta, payload: Buffer.alloc(0) } }, 'result', `result for real task ${task.taskId}: ${a.what}`);
        replies.push(`TaskResult ${a.what} (${a.bytes.length} bytes, base64 ${Buffer.from(a.bytes).toString('base64').slice(0, 120)}…) meta_json ${JSON.stringify(meta.slice(0, 80))}`);
      };
      if (how !== 4) answer();
      else replies.push('no answer');
      if (how === 1) answer();
    }
  });

  const kind = r.pick(['hostile-register', 'out-of-order', 'valid', 'valid', 'valid']);
  report.sessionKind = kind;
  if (kind === 'out-of-order') {
    const m = strayMessage(r, [], arrow);
    send(m.msg, m.kind, `before register: ${m.summary}`);
    const reg = validRegister(o.name, o.products);
    send(reg, 'register', 'register after another message');
  } else if (kind === 'hostile-register') {
    const h = hostileRegister(r, o.name, o.products);
    send(h.msg, 'register', h.summary);
    for (let i = r.int(5); i > 0; i--) {
      const m = strayMessage(r, [], arrow);
      send(m.msg, m.kind, m.summary);
    }
  } else {
    send(validRegister(o.name, o.products), 'register', 'valid register');
    await Promise.race([registered, ended, new Promise((res) => setTimeout(res, 5_000))]);
    if (report.registered) {
      const jobs: { id: string; spec: string }[] = [];
      for (let i = r.range(1, 5); i > 0; i--) {
        const spec = { ...r.pick(TASK_SPECS), agents: r.chance(0.5) ? [o.name] : [o.name, 'h1'], timeoutMs: 3_000 };
        const out = await o.researcher.unary('SubmitJob', { specJson: JSON.stringify(spec) }, 5_000);
        if (out.code === 0) jobs.push({ id: (out.response as { jobId: string }).jobId, spec: JSON.stringify(spec) });
        else if (!out.fedmeshCode) report.submitOutcomes.push(out);
      }
      const strays = Math.min(o.maxMessages - 10, r.pick([5, 50, 200]));
      for (let i = 0; i < strays; i++) {
        const m = strayMessage(r, taskIds, arrow);
        send(m.msg, m.kind, m.summary);
        if (i % 25 === 0) await new Promise((res) => setImmediate(res));
      }
      // Wait for every submitted job to end: answered by us, or failed at its 3 s deadline.
      const until = Date.now() + 10_000;
      for (const { id, spec } of jobs) {
        const replies = [`job ${spec}`, ...(repliesByJob.get(id) ?? ['(no task reached the fuzzer)'])];
        for (;;) {
          const g = await o.researcher.unary('GetJob', { jobId: id }, 5_000);
          const job = g.response as { state: string; error: { code: string } | null } | undefined;
          if (g.code !== 0 || !job) {
            report.jobs.push({ jobId: id, state: `GetJob status ${g.code} ${g.details.slice(0, 100)}`, errorCode: g.fedmeshCode ?? '', replies });
            break;
          }
          if (job.state === 'JOB_STATE_SUCCEEDED' || job.state === 'JOB_STATE_FAILED' || Date.now() > until) {
            report.jobs.push({ jobId: id, state: job.state, errorCode: job.error?.code ?? '', replies });
            break;
          }
          await new Promise((res) => setTimeout(res, 100));
        }
      }
    }
  }
  closedByUs = true;
  call.end();
  await Promise.race([ended, new Promise((res) => setTimeout(res, 3_000))]);
  call.cancel();
  await Promise.race([ended, new Promise((res) => setTimeout(res, 1_000))]);
  return report;
}
