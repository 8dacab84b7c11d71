/**
 * `secureMaxRows`, the public per-agent bound of a secure job: every agent clips each of its statistics to
 * secureMaxRows × the statistic's per-row bound before masking or encryption, so that the secure sum cannot wrap,
 * and never refuses on a value (a refusal when a count passed a bound the researcher chose pinned that count).
 *
 * It is a parameter the agents agree to, not a researcher's probe:
 * - each agent publishes the largest bound it accepts (`--secure-max-rows`, default DEFAULT_SECURE_MAX_ROWS), and a
 *   job whose bound is larger is refused from that public number, at admission and again at the agent;
 * - in mode none (exact totals, minimum cell size applied to the totals) the bound may not be below any agent's
 *   minimum cell size k. Then a count below k is never clipped, so a total below the largest k is the exact total
 *   (suppressed exactly as without clipping), and a clipped total is at least the bound ≥ k: clipping never decides
 *   a suppression, and no choice of bound reveals a count the minimum cell size withholds. In distributed-dp any
 *   bound up to the agents' maximum is fine: clipping is 1-Lipschitz, the noise covers every outcome.
 */
import { FedmeshError, invalidJob } from '../errors.js';
import type { JobSpec } from '../job/spec.js';
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
 * Checks a secure job's bound against the public policies of the agents that will compute it.
 * @throws FedmeshError FAILED_PRECONDITION (field secureMaxRows) above an agent's maximum; INVALID_JOB (field
 *   secureMaxRows) in mode none below an agent's minimum cell size
 */
export function checkSecureMaxRows(job: Pick<JobSpec, 'secureMaxRows' | 'privacy'>, parties: readonly SecureMaxRowsParty[]): void {
  const cap = jobSecureMaxRows(job);
  const given = job.secureMaxRows === undefined ? ` (the default; give secureMaxRows)` : '';
  for (const p of parties) {
    const max = p.secureMaxRows ?? DEFAULT_SECURE_MAX_ROWS;
    if (cap > max) {
      throw new FedmeshError('FAILED_PRECONDITION', `secureMaxRows: ${cap}${given} is above ${max}, the largest per-agent bound agent ${p.name} agrees to; ask for at most ${max}`, { field: 'secureMaxRows' });
    }
  }
  if (job.privacy.mode !== 'none') return;
  const floor = Math.max(...parties.map((p) => p.minCellSize));
  if (parties.length > 0 && cap < floor) {
    throw invalidJob('secureMaxRows', `${cap} is below the minimum cell size ${floor} of an agent; in mode none the per-agent bound must be at least every agent's minimum cell size, so that clipping can never decide which totals are suppressed`);
  }
}

/**
 * The note every secure result carries, whatever the data: what the clip bound is and what it can change. Stated
 * unconditionally, because whether any agent clipped is itself data.
 */
export function clippingNote(secureMaxRows: number, unit: 'rows' | 'persons', mode: 'none' | 'distributed-dp'): string {
  const what = unit === 'rows' ? `${secureMaxRows} rows × the statistic's per-row bound` : `${secureMaxRows} per cell: persons, or entries where a cell counts entries`;
  const dpPart = mode === 'distributed-dp' ? '; clipping is 1-Lipschitz, so the stated privacy holds, and each noisy value is kept within 20 share σ of it (exceeded with probability below 1e-80)' : '';
  return `secureMaxRows ${secureMaxRows}: every agent clips each of its statistics to the public per-agent bound (${what}) before masking or encryption, so a value differs from the exact one only where an agent holds more than ${secureMaxRows} ${unit} in a group or cell; no agent refuses on a value, and nobody is told whether any clipped${dpPart}`;
}
