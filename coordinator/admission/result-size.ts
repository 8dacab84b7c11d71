import { FedmeshError } from '../../common/errors.js';
import { cellBlocks, ruleNamesFor, MAX_DATA_KEY_BYTES, MAX_GROUPS_PER_AGENT } from '../../common/job/index.js';
import type { AggregateJob, CellJob, JobSpec, Measure } from '../../common/job/index.js';
import { MAX_MESSAGE_BYTES } from '../../common/transport/index.js';

/**
 * Most numbers one released result may hold (values, noise std and both ends of each 95% interval count one each).
 * About 18 bytes a number in JSON, so a result at the limit is ~36 MB of JSON: stored once, fetched in 1 MiB chunks
 * by GetJobResult. The repro (10,000 public groups × a 300-bin central-dp histogram, 9 M numbers) is over.
 */
export const MAX_RESULT_VALUES = 2_000_000;

/**
 * Largest agent reply admission lets a job ask for: half the agent link's message limit, leaving the other half
 * for Arrow's per-column buffers, validity bitmaps and protobuf framing the estimate does not count.
 */
export const MAX_AGENT_REPLY_BYTES = Math.floor(MAX_MESSAGE_BYTES / 2);

/**
 * Groups one agent may return without public keys (common/job/group-limits.ts, the one constant the agents obey).
 * Without `groupKeys` the number of groups is data, so admission must assume the worst.
 */
export { MAX_GROUPS_PER_AGENT };

/**
 * Bytes of an Arrow key value we budget for a group key whose values are not public: the agents truncate such text
 * keys to MAX_DATA_KEY_CHARS characters, at most MAX_DATA_KEY_BYTES of UTF-8 (common/job/group-limits.ts).
 */
const UNKNOWN_KEY_BYTES = MAX_DATA_KEY_BYTES;

export interface ResultSizeEstimate {
  /** Groups (aggregate) or rows of cells (cohort-level kinds: 1) in the released result, at most. */
  readonly groups: number;
  /** Numbers released per group. */
  readonly valuesPerGroup: number;
  /** groups × valuesPerGroup. */
  readonly values: number;
  /** The largest reply one agent can send for this job, in bytes of Arrow data. */
  readonly agentReplyBytes: number;
  /** The spec field that drives the size, named in a refusal (an ASCII field path). */
  readonly field: string;
  /** What the refusal message names: the field, with the widest measure when it multiplies the groups. */
  readonly what: string;
}

/** Numbers a measure adds to each released group: value, std and a two-ended interval per released number. */
function releasedValues(m: Measure): number {
  switch (m.fn) {
    case 'count':
    case 'sum':
    case 'mean':
    case 'variance':
      return 4;
    case 'histogram':
      return 3 * (m.bins.length - 1) + 1;
    case 'quantile':
      return 2 * m.quantiles.length;
  }
}

/** Bytes a measure adds to each group row of an agent's Arrow partial (common/arrow/partials-codec.ts). */
function replyBytes(m: Measure): number {
  switch (m.fn) {
    case 'count':
      return 0; // the shared count column
    case 'sum':
    case 'mean':
    case 'variance':
      return 8 + 16 + 16; // n (Int64), sum and sum of squares (Int128)
    case 'histogram':
      return 8 * (m.bins.length - 1);
    case 'quantile':
      return 8 * ((m.candidates ?? 101) + 1); // counts below, between and above the public candidates
  }
}

function keyBytes(values: readonly unknown[] | undefined): number {
  if (!values) return UNKNOWN_KEY_BYTES;
  let max = 8;
  for (const v of values) if (typeof v === 'string') max = Math.max(max, Buffer.byteLength(v));
  return max;
}

function estimateAggregate(job: AggregateJob, agents: number): ResultSizeEstimate {
  const keyed = job.groupKeys !== undefined;
  const publicGroups = job.groupBy.reduce((n, col) => n * (job.groupKeys?.[col]?.length ?? 1), 1);
  const groupsPerAgent = job.groupBy.length === 0 ? 1 : keyed ? publicGroups : MAX_GROUPS_PER_AGENT;
  const groups = job.groupBy.length === 0 ? 1 : keyed ? publicGroups : groupsPerAgent * Math.max(1, agents);
  const valuesPerGroup = job.groupBy.length + job.measures.reduce((s, m) => s + releasedValues(m), 0);
  const rowBytes = job.groupBy.reduce((s, col) => s + keyBytes(job.groupKeys?.[col]), 0) + 8 + 1 + job.measures.reduce((s, m) => s + replyBytes(m), 0);
  const widest = job.measures.reduce((best, m, i) => (releasedValues(m) > releasedValues(job.measures[best]!) ? i : best), 0);
  const field = job.groupBy.length > 0 ? (keyed ? 'groupKeys' : 'groupBy') : `measures[${widest}]`;
  const what = job.groupBy.length > 0 && releasedValues(job.measures[widest]!) > 4 ? `${field} × measures[${widest}]` : field;
  return { groups, valuesPerGroup, values: groups * valuesPerGroup, agentReplyBytes: groupsPerAgent * rowBytes, field, what };
}

function estimateCells(job: CellJob): ResultSizeEstimate {
  const cells = cellBlocks(job, ruleNamesFor(job)).reduce((s, b) => s + b.cells.length, 0);
  // Each cell: name (~24 bytes of UTF-8), an Int64 count and a suppressed flag.
  const field = job.kind === 'survival' ? 'timeGrid' : job.kind === 'contingency' ? 'rowLevels × colLevels' : job.kind === 'characterize' ? 'conditionConcepts' : 'definition';
  return { groups: 1, valuesPerGroup: 4 * cells, values: 4 * cells, agentReplyBytes: cells * (24 + 8 + 1), field, what: field };
}

/** Estimates from the spec alone (never from data) how big a job's result and each agent's reply can be. */
export function estimateResultSize(job: JobSpec, agents: number): ResultSizeEstimate {
  return job.kind === 'aggregate' ? estimateAggregate(job, agents) : estimateCells(job);
}

/**
 * Refuses, before anything is charged or stored, a job whose result could exceed MAX_RESULT_VALUES or whose agent
 * replies could exceed MAX_AGENT_REPLY_BYTES.
 * @throws FedmeshError RESOURCE_EXHAUSTED naming the field and the limit
 */
export function checkResultSize(job: JobSpec, agents: number): ResultSizeEstimate {
  const e = estimateResultSize(job, agents);
  const hint = job.kind === 'aggregate' && job.groupBy.length > 0 && !job.groupKeys ? `; without public groupKeys every agent is assumed to return its maximum of ${MAX_GROUPS_PER_AGENT.toLocaleString('en-US')} groups` : '';
  if (e.values > MAX_RESULT_VALUES) {
    throw new FedmeshError(
      'RESOURCE_EXHAUSTED',
      `${e.what}: the result could hold ${e.values.toLocaleString('en-US')} numbers (${e.groups.toLocaleString('en-US')} groups × ${e.valuesPerGroup} each), over the limit of ${MAX_RESULT_VALUES.toLocaleString('en-US')}${hint}; ask for fewer groups or bins`,
      { field: e.field, details: { limit: MAX_RESULT_VALUES, estimate: e.values } },
    );
  }
  if (e.agentReplyBytes > MAX_AGENT_REPLY_BYTES) {
    throw new FedmeshError(
      'RESOURCE_EXHAUSTED',
      `${e.what}: each agent's reply could be ${e.agentReplyBytes.toLocaleString('en-US')} bytes, over the limit of ${MAX_AGENT_REPLY_BYTES.toLocaleString('en-US')}${hint}; ask for fewer groups, bins or quantile candidates`,
      { field: e.field, details: { limit: MAX_AGENT_REPLY_BYTES, estimate: e.agentReplyBytes } },
    );
  }
  return e;
}
