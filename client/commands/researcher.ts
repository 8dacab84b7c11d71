import { readFile } from 'node:fs/promises';
import { FedmeshError, quote } from '../../common/errors.js';
import { applyCommonFlags, jobFromFlags, type QueryFlags } from '../job-from-flags.js';
import { jobToJson, renderAgents, renderJob, renderJobs } from '../format/render.js';
import { createProgress } from '../format/spinner.js';
import { budgetLine, COMPOSITION_NOTE, remainingBudget } from '../format/budget-line.js';
import { researcherClient, type ConnectionFlags } from './common.js';

export interface OutputFlags {
  json?: boolean;
}

const out = (s: string): void => {
  process.stdout.write(s + '\n');
};

/** Reads a JSON object from a file; a clear error names the file for unreadable or malformed input. */
export async function readJobFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new RangeError(`cannot read job file ${quote(path, 200)}: ${quote((e as Error).message, 200)}`, { cause: e });
  }
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new FedmeshError('INVALID_JOB', `${quote(path, 200)}: malformed JSON: ${quote((e as Error).message, 200)}`, { field: 'spec' });
  }
}

/** `fedmesh query`: submit a job (file or flags), follow it, print the result. Exit 1 if it failed. */
export async function runQuery(file: string | undefined, flags: QueryFlags & ConnectionFlags & OutputFlags & { keyDir?: string }): Promise<number> {
  let spec = file ? await readJobFile(file) : jobFromFlags(flags);
  if (file) applyCommonFlags(spec, flags);
  const client = researcherClient(flags);
  const progress = createProgress(!flags.json && process.stderr.isTTY === true);
  try {
    // HE: the client makes or loads the key pair and sends only the public key; it decrypts the result below.
    const he = spec.secure === 'he' ? await client.prepareHe(spec, flags.keyDir ? { keyDir: flags.keyDir } : {}) : undefined;
    if (he) spec = he.spec;
    progress.update('submitting…');
    const submitted = await client.submitJob(spec);
    let answered = 0;
    const total = submitted.agents.asked.length;
    progress.update(`job ${submitted.jobId.slice(0, 8)}: waiting for ${total} agents`);
    const watched = await client.watchJob(submitted.jobId, (e) => {
      if (e.type === 'agent-answered' || e.type === 'agent-failed') {
        answered++;
        progress.update(`job ${submitted.jobId.slice(0, 8)}: ${answered}/${total} agents replied`);
      }
    });
    const job = he ? await client.finalizeHe(watched, he) : watched;
    progress.stop();
    out(flags.json ? JSON.stringify(jobToJson(job)) : renderJob(job, process.stdout.isTTY === true));
    return job.state === 'succeeded' ? 0 : 1;
  } finally {
    progress.stop();
    client.close();
  }
}

export async function runAgents(flags: ConnectionFlags & OutputFlags): Promise<number> {
  const client = researcherClient(flags);
  try {
    const agents = await client.listAgents();
    out(flags.json ? JSON.stringify({ agents }) : renderAgents(agents, process.stdout.isTTY === true));
    return 0;
  } finally {
    client.close();
  }
}

export async function runJobs(flags: ConnectionFlags & OutputFlags & { limit?: string }): Promise<number> {
  const client = researcherClient(flags);
  try {
    const jobs = await client.listJobs(flags.limit ? Number(flags.limit) : 50);
    out(flags.json ? JSON.stringify({ jobs: jobs.map((j) => ({ jobId: j.jobId, kind: j.kind, status: j.state, researcher: j.researcher, createdAtMs: j.createdAtMs, finishedAtMs: j.finishedAtMs, agents: j.agents, error: j.error, spec: j.spec })) }) : renderJobs(jobs, process.stdout.isTTY === true));
    return 0;
  } finally {
    client.close();
  }
}

function fmt(n: number): string {
  return Number.isFinite(n) ? (Math.round(n * 1e4) / 1e4).toString() : '∞';
}

/** `fedmesh budget`: budgets and spend per researcher × product. */
export async function runBudget(flags: ConnectionFlags & OutputFlags & { researcher?: string; admin?: boolean }): Promise<number> {
  const client = researcherClient(flags, flags.admin ? 'admin' : 'researcher');
  try {
    const report = await client.getBudget(flags.researcher);
    if (flags.json) {
      out(JSON.stringify(report));
      return 0;
    }
    const lines = [`default budget per researcher × product: ε=${report.defaultEpsilon}, δ=${report.defaultDelta}`];
    if (report.entries.length === 0) lines.push('(nothing spent yet)');
    for (const e of report.entries) lines.push(budgetLine(e));
    if (report.entries.length > 0) lines.push(COMPOSITION_NOTE);
    out(lines.join('\n'));
    return 0;
  } finally {
    client.close();
  }
}

/** `fedmesh budget set`: an administrator sets one researcher's budget on one product. */
export async function runBudgetSet(flags: ConnectionFlags & OutputFlags & { researcher: string; product: string; epsilon: string; delta?: string }): Promise<number> {
  const epsilon = Number(flags.epsilon);
  const delta = flags.delta === undefined ? 1e-6 : Number(flags.delta);
  if (!Number.isFinite(epsilon)) throw new RangeError(`--epsilon: not a number: ${quote(flags.epsilon)}`);
  if (!Number.isFinite(delta)) throw new RangeError(`--delta: not a number: ${quote(flags.delta)}`);
  const client = researcherClient({ ...flags, name: flags.name === 'researcher' || !flags.name ? 'admin' : flags.name }, 'admin');
  try {
    const e = await client.setBudget(flags.researcher, flags.product, epsilon, delta);
    out(flags.json ? JSON.stringify(e) : `budget of ${e.researcher} on ${e.product}: ε=${e.budgetEpsilon} δ=${e.budgetDelta}; spent ε=${fmt(e.spentEpsilon)}; remaining ρ=${fmt(remainingBudget(e).rho)} (next job up to ε=${fmt(remainingBudget(e).nextJobEpsilon)})`);
    return 0;
  } finally {
    client.close();
  }
}

/** `fedmesh catalog`: every data product in the mesh, the agents serving it and its schema. */
export async function runCatalog(flags: ConnectionFlags & OutputFlags): Promise<number> {
  const client = researcherClient(flags);
  try {
    const agents = await client.listAgents();
    const byProduct = new Map<string, { name: string; agents: string[]; privacyUnit: string; description: string; columns: { name: string; type: string }[]; perAgent: Record<string, unknown> }>();
    for (const a of agents.filter((x) => x.connected)) {
      for (const p of a.products) {
        const e = byProduct.get(p.name) ?? { name: p.name, agents: [], privacyUnit: p.privacyUnit, description: p.description, columns: p.columns, perAgent: {} };
        e.agents.push(a.name);
        e.perAgent[a.name] = p.metadata ?? {};
        byProduct.set(p.name, e);
      }
    }
    const products = [...byProduct.values()].sort((x, y) => x.name.localeCompare(y.name));
    if (flags.json) out(JSON.stringify({ products }));
    else
      for (const p of products) {
        const meta = Object.values(p.perAgent)[0] as { sensitivity?: string; owner?: string; quality?: { rowCount?: unknown } } | undefined;
        const rows = Object.entries(p.perAgent).map(([a, m]) => `${a}: ${String((m as { quality?: { rowCount?: unknown } }).quality?.rowCount ?? '?')}`).join(', ');
        out(`${p.name} — ${p.description}\n  agents: ${p.agents.join(', ')}; privacy unit: ${p.privacyUnit || '—'}; sensitivity: ${meta?.sensitivity ?? '?'}; rows (coarsened): ${rows}\n  columns: ${p.columns.map((c) => `${c.name}:${c.type}`).join(', ')}`);
      }
    return 0;
  } finally {
    client.close();
  }
}
