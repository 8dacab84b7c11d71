import type { Table} from 'apache-arrow';
import { chunkBit, splitIntoChunks } from '../../common/transport/index.js';
import { tableToIPC, tableFromJSON } from 'apache-arrow';
import { INGEST_STATES, type AgentRegistration, type AgentTask, type AgentTaskReply, type IngestStatus } from '../../common/agent-protocol.js';
import { FedmeshError } from '../../common/errors.js';
import type { AgentListing } from '../agent-registry.js';
import { MAX_CONCEPT_LOOKUP_IDS, MAX_CONCEPT_NAME_CHARS, type ConceptNameEntry } from '../../common/job/index.js';
import type { BudgetEntry, ProjectBudgetEntry } from '../ledger.js';
import type { JobEventRecord, JobRecord } from '../job-record.js';
import type { JobSummary } from '../job-summary.js';

/** Conversions between the coordinator's domain types and proto-loader wire objects (one place). */
export interface WireRegister {
  name: string;
  domain: string;
  version: string;
  policyJson: string;
  products: { name: string; columns: { name: string; type: string }[]; privacyUnit: string; description: string; metadataJson: string }[];
  identityPublicKey?: Buffer;
  identitySignature?: Buffer;
  certificatePem?: string;
  ingest?: WireIngestStatus | null;
}

export interface WireIngestStatus {
  state?: string;
  failed?: string[];
  notices?: { severity?: string; source?: string; message?: string }[];
  omitted?: number;
  atUnixMs?: string;
}

/**
 * The ingest status of a registration (sizes already checked by `checkRegistrationSize`).
 * @throws FedmeshError INVALID_ARGUMENT naming the field for an unknown state or severity
 */
export function ingestStatusFromWire(w: WireIngestStatus | null | undefined): IngestStatus | undefined {
  if (w === null || w === undefined) return undefined;
  const state = w.state ?? '';
  if (!(INGEST_STATES as readonly string[]).includes(state)) {
    throw new FedmeshError('INVALID_ARGUMENT', `register.ingest.state must be one of ${INGEST_STATES.join(', ')}`, { field: 'register.ingest.state' });
  }
  const notices = (w.notices ?? []).map((n, i) => {
    if (n.severity !== 'error' && n.severity !== 'warning') {
      throw new FedmeshError('INVALID_ARGUMENT', `register.ingest.notices[${i}].severity must be error or warning`, { field: `register.ingest.notices[${i}].severity` });
    }
    return { severity: n.severity as 'error' | 'warning', source: n.source ?? '', message: n.message ?? '' };
  });
  const atMs = Number(w.atUnixMs ?? 0);
  return { state: state as IngestStatus['state'], failed: [...(w.failed ?? [])], notices, omitted: Number(w.omitted ?? 0), atMs: Number.isSafeInteger(atMs) && atMs > 0 ? atMs : 0 };
}

function ingestStatusToWire(s: IngestStatus): WireIngestStatus {
  return { state: s.state, failed: s.failed, notices: s.notices, omitted: s.omitted, atUnixMs: String(s.atMs) };
}

const STATE: Record<JobRecord['state'], string> = {
  queued: 'JOB_STATE_QUEUED',
  running: 'JOB_STATE_RUNNING',
  succeeded: 'JOB_STATE_SUCCEEDED',
  failed: 'JOB_STATE_FAILED',
};

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  if (!text) return {};
  const v: unknown = JSON.parse(text);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

export function registrationFromWire(w: WireRegister): AgentRegistration {
  const policy = parseJsonObject(w.policyJson, 'register.policy_json');
  const num = (v: unknown, d: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : d);
  const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const ingest = ingestStatusFromWire(w.ingest);
  return {
    name: w.name,
    domain: w.domain,
    version: w.version,
    ...(ingest ? { ingest } : {}),
    policy: {
      minCellSize: num(policy.minCellSize, 10),
      allowModes: strs(policy.allowModes),
      allowKinds: strs(policy.allowKinds),
      ...(typeof policy.secureMaxRows === 'number' && Number.isSafeInteger(policy.secureMaxRows) && policy.secureMaxRows >= 1 ? { secureMaxRows: policy.secureMaxRows } : {}),
    },
    ...(w.identityPublicKey && w.identityPublicKey.length > 0 && w.certificatePem
      ? { identity: { identityPublicKey: new Uint8Array(w.identityPublicKey), signature: new Uint8Array(w.identitySignature ?? []), certificatePem: w.certificatePem } }
      : {}),
    products: (w.products ?? []).map((p) => ({
      name: p.name,
      columns: (p.columns ?? []).map((c) => ({ name: c.name, type: c.type })),
      privacyUnit: p.privacyUnit,
      description: p.description,
      metadata: parseJsonObject(p.metadataJson, `products[${p.name}].metadata_json`),
    })),
  };
}

/**
 * A task as the messages that carry it: a payload above CHUNK_BYTES goes first in pieces, then the task naming it in
 * `chunked` (common/transport/chunks.ts).
 */
export function taskMessages(t: AgentTask): Record<string, unknown>[] {
  const pieces = splitIntoChunks(t.taskId, 1, t.payload);
  if (pieces.length === 0) return [taskToWire(t)];
  const task = taskToWire(t) as { task: Record<string, unknown> };
  return [...pieces.map((chunk) => ({ chunk })), { task: { ...task.task, payload: Buffer.alloc(0), chunked: chunkBit(1) } }];
}

export function taskToWire(t: AgentTask): Record<string, unknown> {
  return {
    task: {
      taskId: t.taskId,
      jobId: t.jobId,
      kind: t.kind,
      specJson: t.specJson,
      deadlineUnixMs: String(t.deadlineMs),
      round: t.round,
      researcher: t.researcher,
      payload: Buffer.from(t.payload),
      ...(t.conceptIds ? { conceptIds: t.conceptIds.map(String) } : {}),
      ...(t.identityAssertion ? { identityAssertion: t.identityAssertion } : {}),
    },
  };
}

/**
 * An agent's vocabulary answer, copied no further than the checks need: at most one entry more than any lookup
 * asks for and one character more than a name may have, so the coordinator's check (`checkConceptNamesReply`)
 * refuses an oversized answer without this copy growing with it. Ids that are not safe integers become -1 (never asked).
 */
function conceptNamesFromWire(w: unknown): ConceptNameEntry[] | undefined {
  if (!Array.isArray(w) || w.length === 0) return undefined;
  return (w as { conceptId?: unknown; conceptName?: unknown }[]).slice(0, MAX_CONCEPT_LOOKUP_IDS + 1).map((e) => {
    const id = typeof e.conceptId === 'string' && /^\d{1,16}$/.test(e.conceptId) ? Number(e.conceptId) : -1;
    return { conceptId: Number.isSafeInteger(id) ? id : -1, name: typeof e.conceptName === 'string' ? e.conceptName.slice(0, MAX_CONCEPT_NAME_CHARS + 1) : '' };
  });
}

/** Longest error message kept from an agent's TaskFailure. */
export const MAX_AGENT_ERROR_CHARS = 1000;

function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} characters)`;
}

export function replyFromWire(msg: { result?: { taskId: string; arrowIpc: Buffer; metaJson: string; payload?: Buffer; conceptNames?: unknown }; failure?: { taskId: string; error?: { code: string; message: string; field: string } } }): AgentTaskReply | undefined {
  if (msg.result) {
    let meta: Record<string, unknown>;
    try {
      meta = parseJsonObject(msg.result.metaJson, 'result.meta_json');
    } catch {
      meta = {};
    }
    const payload = msg.result.payload;
    const conceptNames = conceptNamesFromWire(msg.result.conceptNames);
    return {
      ok: true,
      taskId: msg.result.taskId,
      arrow: new Uint8Array(msg.result.arrowIpc),
      meta,
      ...(payload && payload.length > 0 ? { payload: new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength) } : {}),
      ...(conceptNames ? { conceptNames } : {}),
    };
  }
  if (msg.failure) {
    const e = msg.failure.error ?? { code: 'INTERNAL', message: 'agent failed', field: '' };
    // An agent's error text is stored with the job and shown to the researcher: cut it like any echoed input.
    return { ok: false, taskId: msg.failure.taskId, error: { code: cut(e.code || 'INTERNAL', 64), message: cut(e.message ?? '', MAX_AGENT_ERROR_CHARS), field: cut(e.field ?? '', 256) } };
  }
  return undefined;
}

/** The released rows as an Arrow IPC stream (JSON-friendly values; nested histograms as JSON text). */
function resultArrow(job: JobRecord): Buffer {
  const r = job.result;
  if (!r || r.rows.length === 0) return Buffer.alloc(0);
  const rows = r.rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Array.isArray(v) ? JSON.stringify(v) : v])));
  const t: Table = tableFromJSON(rows);
  return Buffer.from(tableToIPC(t, 'stream'));
}

/**
 * Largest result (JSON + Arrow + ciphertexts) sent inline in a JobStatus: 4 MiB, the default receive limit of most
 * gRPC clients. Larger results are fetched with GetJobResult in chunks of RESULT_CHUNK_BYTES.
 */
export const MAX_INLINE_RESULT_BYTES = 4 * 1024 * 1024;
/** Size of one GetJobResult chunk. */
export const RESULT_CHUNK_BYTES = 1024 * 1024;

export type ResultPartName = 'RESULT_PART_JSON' | 'RESULT_PART_ARROW' | 'RESULT_PART_CIPHERTEXTS';
export const RESULT_PARTS: readonly ResultPartName[] = ['RESULT_PART_JSON', 'RESULT_PART_ARROW', 'RESULT_PART_CIPHERTEXTS'];

/** One part of a job's result as bytes (empty when the job has none). */
export function resultPart(job: JobRecord, part: ResultPartName): Buffer {
  if (part === 'RESULT_PART_JSON') return job.result ? Buffer.from(JSON.stringify(job.result)) : Buffer.alloc(0);
  if (part === 'RESULT_PART_ARROW') return resultArrow(job);
  const c = job.resultCiphertexts;
  return c ? Buffer.from(c.buffer, c.byteOffset, c.byteLength) : Buffer.alloc(0);
}

/** A job's full status; the result inline only when it fits MAX_INLINE_RESULT_BYTES (else `resultOmitted`). */
export function jobToWire(job: JobRecord): Record<string, unknown> {
  const json = resultPart(job, 'RESULT_PART_JSON');
  const ciphertexts = resultPart(job, 'RESULT_PART_CIPHERTEXTS');
  let inline = json.length + ciphertexts.length <= MAX_INLINE_RESULT_BYTES;
  // Arrow is built only when the result may still go inline: building it for a 30 MB result just to drop it is waste.
  const arrow = inline ? resultArrow(job) : Buffer.alloc(0);
  inline &&= json.length + arrow.length + ciphertexts.length <= MAX_INLINE_RESULT_BYTES;
  return {
    jobId: job.id,
    state: STATE[job.state],
    kind: job.kind,
    researcher: job.researcher,
    createdAtMs: String(job.createdAtMs),
    finishedAtMs: String(job.finishedAtMs ?? 0),
    agentsAsked: job.agentsAsked,
    agentsAnswered: job.agentsAnswered,
    agentsMissing: job.agentsMissing,
    resultJson: inline ? json.toString('utf8') : '',
    resultArrow: inline ? arrow : Buffer.alloc(0),
    error: job.error ? { code: job.error.code, message: job.error.message, field: job.error.field ?? '' } : null,
    specJson: JSON.stringify(job.spec),
    resultCiphertexts: inline ? ciphertexts : Buffer.alloc(0),
    resultOmitted: !inline && (json.length > 0 || ciphertexts.length > 0),
    specSummarised: false,
  };
}

/** A ListJobs row: status and the spec's headline, never the result. */
export function jobSummaryToWire(s: JobSummary): Record<string, unknown> {
  return {
    jobId: s.id,
    state: STATE[s.state],
    kind: s.kind,
    researcher: s.researcher,
    createdAtMs: String(s.createdAtMs),
    finishedAtMs: String(s.finishedAtMs ?? 0),
    agentsAsked: s.agentsAsked,
    agentsAnswered: s.agentsAnswered,
    agentsMissing: s.agentsMissing,
    resultJson: '',
    resultArrow: Buffer.alloc(0),
    error: s.error ? { code: s.error.code, message: s.error.message, field: s.error.field ?? '' } : null,
    specJson: JSON.stringify(s.spec),
    resultCiphertexts: Buffer.alloc(0),
    resultOmitted: s.state === 'succeeded',
    specSummarised: true,
  };
}

export function eventToWire(e: JobEventRecord, job: JobRecord | undefined): Record<string, unknown> {
  return {
    jobId: e.jobId,
    type: e.type,
    agent: e.agent ?? '',
    message: e.message ?? '',
    atMs: String(e.atMs),
    status: job ? jobToWire(job) : null,
  };
}

export function agentToWire(a: AgentListing): Record<string, unknown> {
  return {
    ...(a.member ? { registeredProducts: a.member.products, notLiveSinceMs: String(a.member.notLiveSinceMs ?? 0), notLiveReason: a.member.notLiveReason ?? '' } : {}),
    name: a.name,
    domain: a.domain,
    connected: a.connected,
    connectedSinceMs: String(a.connectedSinceMs),
    lastHeartbeatMs: String(a.lastHeartbeatMs),
    version: a.version,
    ingest: a.ingest ? ingestStatusToWire(a.ingest) : null,
    products: a.products.map((p) => ({ name: p.name, columns: p.columns, privacyUnit: p.privacyUnit, description: p.description, metadataJson: JSON.stringify(p.metadata) })),
  };
}

/** A project's budget entry on the wire: a BudgetEntry with `project` set and no researcher. */
export function projectBudgetToWire(e: ProjectBudgetEntry & { mappedFrom?: string }): Record<string, unknown> {
  return {
    researcher: '',
    project: e.project,
    researchers: e.researchers.length,
    product: e.population,
    population: e.population,
    products: [],
    mappedFromProduct: e.mappedFrom ?? '',
    budgetEpsilon: e.budget?.epsilon ?? 0,
    budgetDelta: e.budget?.delta ?? 0,
    explicit: e.budget !== undefined,
    spentRho: e.spent.rho,
    spentEpsilon: e.spent.epsilonAtBudgetDelta ?? 0,
    spentDelta: e.spent.delta,
    remainingEpsilon: e.remainingEpsilon ?? 0,
    jobs: e.jobs,
    reserved: e.reserved,
  };
}

export function budgetEntryToWire(e: BudgetEntry & { mappedFrom?: string }): Record<string, unknown> {
  return {
    researcher: e.researcher,
    product: e.population,
    population: e.population,
    products: e.products,
    mappedFromProduct: e.mappedFrom ?? '',
    budgetEpsilon: e.budget.epsilon,
    budgetDelta: e.budget.delta,
    explicit: e.explicit,
    spentRho: e.spent.rho,
    spentEpsilon: e.spent.epsilonAtBudgetDelta,
    spentDelta: e.spent.delta,
    remainingEpsilon: e.remainingEpsilon,
    jobs: e.jobs,
    reserved: e.reserved,
  };
}
