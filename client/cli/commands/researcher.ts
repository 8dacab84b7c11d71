import { readFile } from 'node:fs/promises';
import { FedmeshError, quote } from '../../../common/errors.js';
import { applyCommonFlags, commonFlagOrigins, flagFor, jobFromFlagsWithOrigins, type FlagOrigins, type QueryFlags } from '../job-from-flags.js';
import { exitCodeForJob } from '../../sdk/exit-codes.js';
import type { JobView } from '../../sdk/types.js';
import { jobToJson, jobsTable, renderAgents, ingestState, renderCatalog, renderJob, renderJobs, type CatalogProduct } from '../format/render.js';
import { resultTable } from '../../sdk/result-table.js';
import { emit, quietOutput, type OutputFlags } from './output.js';
import { createProgress } from '../format/spinner.js';
import { budgetLine, budgetSetLine, COMPOSITION_NOTE } from '../format/budget-line.js';
import { researcherClient, type ConnectionFlags } from './common.js';

export type { OutputFlags } from './output.js';

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

/** An error about a field a flag set names the flag as typed: `--mean year_of_birth:2030:1900: measures[0].bounds: …`. */
export function withFlagName(e: unknown, origins: FlagOrigins): unknown {
  if (!(e instanceof FedmeshError)) return e;
  const flag = flagFor(origins, e.field);
  return flag ? new FedmeshError(e.code, `${quote(flag, 200).slice(1, -1)}: ${e.message}`, { cause: e, ...(e.field ? { field: e.field } : {}), details: e.details }) : e;
}

export function withFlagNameInJob(job: JobView, origins: FlagOrigins): JobView {
  const flag = job.error ? flagFor(origins, job.error.field) : undefined;
  return flag && job.error ? { ...job, error: { ...job.error, message: `${quote(flag, 200).slice(1, -1)}: ${job.error.message}` } } : job;
}

/** `fedmesh query`: submit a job (file or flags), follow it, print the result. Exit 1 if it failed. */
export async function runQuery(file: string | undefined, flags: QueryFlags & ConnectionFlags & OutputFlags & { keyDir?: string }): Promise<number> {
  let spec: Record<string, unknown>;
  let origins: FlagOrigins;
  if (file) {
    spec = await readJobFile(file);
    applyCommonFlags(spec, flags);
    origins = commonFlagOrigins(flags);
  } else ({ job: spec, origins } = jobFromFlagsWithOrigins(flags));
  const client = researcherClient(flags);
  const progress = createProgress(!quietOutput(flags) && process.stderr.isTTY === true);
  try {
    // HE: the client makes or loads the key pair and sends only the public key; it decrypts the result below.
    const he = spec.secure === 'he' ? await client.prepareHe(spec, flags.keyDir ? { keyDir: flags.keyDir } : {}) : undefined;
    if (he) spec = he.spec;
    progress.update('submitting…');
    const submitted = await client.submitJob(spec).catch((e: unknown) => {
      throw withFlagName(e, origins);
    });
    let answered = 0;
    const total = submitted.agents.asked.length;
    progress.update(`job ${submitted.jobId.slice(0, 8)}: waiting for ${total} agents`);
    const watched = await client.watchJob(submitted.jobId, (e) => {
      if (e.type === 'agent-answered' || e.type === 'agent-failed') {
        answered++;
        progress.update(`job ${submitted.jobId.slice(0, 8)}: ${answered}/${total} agents replied`);
      }
    });
    const job = withFlagNameInJob(he ? await client.finalizeHe(watched, he) : watched, origins);
    progress.stop();
    await emit({ json: () => jobToJson(job), table: (color) => renderJob(job, color), flat: () => resultTable(job) }, flags);
    return exitCodeForJob(job);
  } finally {
    progress.stop();
    client.close();
  }
}

export async function runAgents(flags: ConnectionFlags & OutputFlags): Promise<number> {
  const client = researcherClient(flags);
  try {
    const agents = await client.listAgents();
    await emit(
      {
        json: () => ({ agents }),
        table: (color) => renderAgents(agents, color),
        flat: () => ({ columns: ['agent', 'domain', 'connected', 'lastHeartbeat', 'ingest', 'products'], rows: agents.map((a) => ({ agent: a.name, domain: a.domain, connected: a.connected, lastHeartbeat: a.lastHeartbeatMs ? new Date(a.lastHeartbeatMs).toISOString() : null, ingest: ingestState(a.ingest), products: a.products.map((p) => p.name).join(' ') })) }),
      },
      flags,
    );
    return 0;
  } finally {
    client.close();
  }
}

export async function runJobs(flags: ConnectionFlags & OutputFlags & { limit?: string }): Promise<number> {
  const client = researcherClient(flags);
  try {
    const jobs = await client.listJobs(flags.limit ? Number(flags.limit) : 50);
    await emit(
      {
        json: () => ({ jobs: jobs.map((j) => ({ jobId: j.jobId, kind: j.kind, status: j.state, researcher: j.researcher, createdAtMs: j.createdAtMs, finishedAtMs: j.finishedAtMs, agents: j.agents, error: j.error, spec: j.spec })) }),
        table: (color) => renderJobs(jobs, color),
        flat: () => jobsTable(jobs),
      },
      flags,
    );
    return 0;
  } finally {
    client.close();
  }
}

/** `fedmesh budget`: budgets and spend per researcher × population, with the products each population covers. */
export async function runBudget(flags: ConnectionFlags & OutputFlags & { researcher?: string; admin?: boolean }): Promise<number> {
  const client = researcherClient(flags, flags.admin ? 'admin' : 'researcher');
  try {
    const report = await client.getBudget(flags.researcher);
    if (flags.json) {
      out(JSON.stringify(report));
      return 0;
    }
    const lines = [`default budget per researcher × population: ε=${report.defaultEpsilon}, δ=${report.defaultDelta} (one budget for all products keyed by the same persons)`];
    if (report.entries.length === 0) lines.push('(nothing spent yet)');
    for (const e of report.entries) lines.push(budgetLine(e));
    if (report.entries.length > 0) lines.push(COMPOSITION_NOTE);
    out(lines.join('\n'));
    return 0;
  } finally {
    client.close();
  }
}

/** `fedmesh agents remove NAME`: an administrator removes a member agent that is not live. */
export async function runAgentsRemove(agent: string, flags: ConnectionFlags): Promise<number> {
  const client = researcherClient(flags, 'admin');
  try {
    await client.removeAgent(agent);
    out(`removed agent ${agent}: default quorums no longer count it (it becomes a member again if it registers)`);
    return 0;
  } finally {
    client.close();
  }
}

/** `fedmesh budget set`: an administrator sets one researcher's budget on one population (named, or by a product). */
export async function runBudgetSet(flags: ConnectionFlags & OutputFlags & { researcher?: string; project?: string; population?: string; product?: string; epsilon: string; delta?: string }): Promise<number> {
  const epsilon = Number(flags.epsilon);
  const delta = flags.delta === undefined ? 1e-6 : Number(flags.delta);
  if (!Number.isFinite(epsilon)) throw new RangeError(`--epsilon: not a number: ${quote(flags.epsilon)}`);
  if (!Number.isFinite(delta)) throw new RangeError(`--delta: not a number: ${quote(flags.delta)}`);
  if ((flags.population === undefined) === (flags.product === undefined)) throw new RangeError('give exactly one of --population and --product');
  if ((flags.researcher === undefined) === (flags.project === undefined)) throw new RangeError('give exactly one of --researcher and --project');
  const client = researcherClient(flags, 'admin');
  try {
    const target = flags.population !== undefined ? { population: flags.population } : { product: flags.product! };
    const e = flags.project !== undefined ? await client.setProjectBudget(flags.project, target, epsilon, delta) : await client.setBudget(flags.researcher!, target, epsilon, delta);
    out(flags.json ? JSON.stringify(e) : budgetSetLine(e));
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
    const byProduct = new Map<string, CatalogProduct>();
    const live = agents.filter((x) => x.connected);
    for (const a of live) {
      for (const p of a.products) {
        const e = byProduct.get(p.name) ?? { name: p.name, agents: [], privacyUnit: p.privacyUnit, description: p.description, columns: p.columns, perAgent: {} };
        e.agents.push(a.name);
        e.perAgent[a.name] = p.metadata ?? {};
        byProduct.set(p.name, e);
      }
    }
    const products = [...byProduct.values()].sort((x, y) => x.name.localeCompare(y.name));
    await emit(
      {
        // Every connected agent's ingest state: a failed OMOP ingest or a warning is shown, not only counted.
        json: () => ({ products, agents: live.map((a) => ({ name: a.name, ingest: a.ingest ?? null })) }),
        table: () => renderCatalog(products, live),
        flat: () => ({ columns: ['product', 'agents', 'privacyUnit', 'description', 'columns'], rows: products.map((p) => ({ product: p.name, agents: p.agents.join(' '), privacyUnit: p.privacyUnit, description: p.description, columns: p.columns.map((c) => `${c.name}:${c.type}`).join(' ') })) }),
      },
      flags,
    );
    return 0;
  } finally {
    client.close();
  }
}
