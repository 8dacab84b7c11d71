/**
 * `secureMaxRows`, the public per-agent bound of a secure job: every agent clips each of its statistics to
 * secureMaxRows × the statistic's per-row bound before masking or encryption, so that the secure sum cannot wrap,
 * and never refuses on a value (a refusal when a count passed a bound the researcher chose pinned that count).
 *
 * It is a parameter the agents agree to, not a researcher's probe:
 * - each agent publishes the largest bound it accepts (`--secure-max-rows`, default DEFAULT_SECURE_MAX_ROWS), and a
 *   job whose bound is larger is refused from that public number, at admission and again at the agent;
 * - in mode none (exact totals, no noise covering the clipping) the bound is not the researcher's choice at all: the
 *   total Σ min(count_i, b) over a researcher's choice of b between k and the maximum would reveal each agent's count,
 *   also in groups the minimum cell size suppresses at the mesh level. The bound is the one value every agent of the
 *   job publishes (agents publishing different maxima cannot run mode-none secure jobs together); admission fills it
 *   into the stored spec, refuses a different researcher value, and each agent verifies it equals its own published
 *   value, so a coordinator cannot probe either. It must be at least every agent's minimum cell size k: then a count
 *   below k is never clipped and clipping never decides a suppression;
 * - in distributed-dp any bound up to the agents' maximum is fine: clipping is 1-Lipschitz, the noise covers every
 *   outcome.
 */
import { FedmeshError, invalidJob } from '../errors.js';
import type { JobSpec } from '../job/index.js';
import { DEFAULT_SECURE_MAX_ROWS } from './vector-layout.js';

/** What an agent publishes that bounds a secure job's secureMaxRows. */
export interface SecureMaxRowsParty {
  readonly name: string;
  /** The largest secureMaxRows this agent accepts. @default DEFAULT_SECURE_MAX_ROWS */
  readonly secureMaxRows?: number | undefined;
  readonly minCellSize: number;
}

/** The job's per-agent bound: its secureMaxRows or the default. */
export function jobSecureMaxRows(job: Pick<JobSpec, 'secureMaxRows'>): number {
  return job.secureMaxRows ?? DEFAULT_SECURE_MAX_ROWS;
}

/**
 * Mode none: the one bound every agent of the job publishes, which is the job's bound.
 * @throws FedmeshError FAILED_PRECONDITION (field secureMaxRows) when the agents publish different maxima
 */
export function agreedSecureMaxRows(parties: readonly SecureMaxRowsParty[]): number {
  const maxima = parties.map((p) => p.secureMaxRows ?? DEFAULT_SECURE_MAX_ROWS);
  const agreed = Math.min(...maxima);
  if (maxima.some((m) => m !== agreed)) {
    const list = parties.map((p, i) => `${p.name} ${maxima[i]}`).join(', ');
    throw new FedmeshError('FAILED_PRECONDITION', `secureMaxRows: in mode none the bound is the one value every agent publishes, and these agents publish different maxima (${list}); run on agents that agree (fedmesh agent --secure-max-rows) or use distributed-dp`, { field: 'secureMaxRows' });
  }
  return agreed;
}

/**
 * Admission: in mode none, fills in the mesh-agreed bound when the researcher gave none (the stored spec carries it
 * to the agents), then checks the job as `checkSecureMaxRows` does.
 * @throws FedmeshError as checkSecureMaxRows and agreedSecureMaxRows
 */
export function settleSecureMaxRows(job: Pick<JobSpec, 'secureMaxRows' | 'privacy'>, parties: readonly SecureMaxRowsParty[]): void {
  if (job.privacy.mode === 'none' && job.secureMaxRows === undefined && parties.length > 0) job.secureMaxRows = agreedSecureMaxRows(parties);
  checkSecureMaxRows(job, parties);
}

/**
 * Checks a secure job's bound against the public policies of the agents that will compute it (at admission: all of
 * them; at an agent: itself).
 * @throws FedmeshError FAILED_PRECONDITION (field secureMaxRows) above an agent's maximum, or in mode none when the
 *   agents publish different maxima or the agreed one is below an agent's minimum cell size; INVALID_JOB (field
 *   secureMaxRows) in mode none when the job's bound is not the agreed one
 */
export function checkSecureMaxRows(job: Pick<JobSpec, 'secureMaxRows'> & { readonly privacy: { readonly mode: string } }, parties: readonly SecureMaxRowsParty[], field = 'secureMaxRows'): void {
  const cap = jobSecureMaxRows(job);
  if (job.privacy.mode === 'none' && parties.length > 0) {
    const agreed = agreedSecureMaxRows(parties);
    if (cap !== agreed) {
      throw invalidJob(field, `${cap}${job.secureMaxRows === undefined ? ' (the default)' : ''} is not the agreed ${agreed}: in mode none the per-agent bound is the value the agents publish, not a choice (a chosen bound would reveal per-agent counts); ${field === 'secureMaxRows' ? 'leave secureMaxRows out or ' : ''}give ${agreed}`);
    }
    const floor = Math.max(...parties.map((p) => p.minCellSize));
    if (agreed < floor) {
      throw new FedmeshError('FAILED_PRECONDITION', `${field}: the agreed ${agreed} is below the minimum cell size ${floor} of an agent; in mode none the per-agent bound must be at least every agent's minimum cell size, so that clipping can never decide which totals are suppressed`, { field });
    }
    return;
  }
  const given = job.secureMaxRows === undefined ? ` (the default; give ${field})` : '';
  for (const p of parties) {
    const max = p.secureMaxRows ?? DEFAULT_SECURE_MAX_ROWS;
    if (cap > max) {
      throw new FedmeshError('FAILED_PRECONDITION', `${field}: ${cap}${given} is above ${max}, the largest per-agent bound ${p.name === 'this agent' ? p.name : `agent ${p.name}`} agrees to; ask for at most ${max}`, { field });
    }
  }
}

/**
 * The note every secure result carries, whatever the data: what the clip bound is and what it can change. Stated
 * unconditionally, because whether any agent clipped is itself data.
 */
export function clippingNote(secureMaxRows: number, unit: 'rows' | 'persons', mode: 'none' | 'distributed-dp', tail = '20 share σ of it (exceeded with probability below 1e-80)'): string {
  const what = unit === 'rows' ? `${secureMaxRows} rows × the statistic's per-row bound` : `${secureMaxRows} per cell: persons, or entries where a cell counts entries`;
  const dpPart = mode === 'distributed-dp' ? `; clipping is 1-Lipschitz, so the stated privacy holds, and each noisy value is kept within ${tail}` : '';
  return `secureMaxRows ${secureMaxRows}: every agent clips each of its statistics to the public per-agent bound (${what}) before masking or encryption, so a value differs from the exact one only where an agent holds more than ${secureMaxRows} ${unit} in a group or cell; no agent refuses on a value, and nobody is told whether any clipped${dpPart}`;
}
