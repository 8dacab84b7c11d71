/**
 * The `aggregate` spec: the built-in job spec (common/job), parsed by the one built-in parser so that the spec a
 * researcher sends, the spec stored with the job and the spec every agent compiles are the shape they were before
 * the port (test/golden pins it, key order included). Pure.
 */
import { FedmeshError } from '../../common/errors.js';
import type { AggregateJob } from '../../common/job/index.js';
import { parseJobSpec } from '../../common/job/index.js';

export type AggregateSpec = AggregateJob;

/**
 * The modes whose specs run on the kind seam: local-dp; central-dp with public groups (vector.ts draws in
 * releaseCentral's order, a quantile's permute-and-flip at its place; index.ts releases through it, the central-dp
 * goldens draw for draw); none with public groups (exact-vector.ts: exact sums in limbs, each agent's withholding
 * as flags; the mode-none goldens bit for bit).
 */
export const SEAM_MODES: readonly string[] = ['none', 'local-dp', 'central-dp'];
/**
 * The modes whose secagg specs run on the seam: none (secure-exact.ts: exact totals, the minimum cell size applied to
 * them) and distributed-dp (distributed.ts: the agents' discrete Gaussian shares, the built-in plan's ρ per
 * statistic). HE stays on the built-in secure path (the researcher's client decrypts with its own key), as for every
 * ported kind.
 */
export const SECURE_SEAM_MODES: readonly string[] = ['none', 'distributed-dp'];

/**
 * Which specs run on the kind seam: the port goes mode by mode (jobs/README.md, "Porting the old kinds"), with plain
 * sums and public groups only (public `groupKeys`, or no grouping), and none and distributed-dp with secagg. Still on
 * the built-in path: data-derived groups (DP partition selection in central-dp, the minimum cell size in none), and
 * HE. Read from the raw spec
 * alone, so the coordinator, every agent and the client choose alike.
 */
export function seamRunsAggregate(raw: unknown, modes: readonly string[] = SEAM_MODES): boolean {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return false;
  const r = raw as { privacy?: unknown; secure?: unknown; groupBy?: unknown; groupKeys?: unknown };
  // The parser's defaults (common/job/validate.ts): no privacy block, or one without a mode, is central-dp. The
  // coordinator reads the researcher's spec and the agents the parsed one: both must choose alike.
  const mode = r.privacy === undefined ? 'central-dp' : typeof r.privacy === 'object' && r.privacy !== null ? ((r.privacy as { mode?: unknown }).mode ?? 'central-dp') : undefined;
  if (typeof mode !== 'string') return false;
  const secure = r.secure ?? 'plain';
  if (secure === 'secagg' ? !SECURE_SEAM_MODES.includes(mode) : secure !== 'plain' || !modes.includes(mode)) return false;
  if (mode === 'local-dp') return true;
  // (a null groupBy parses as no grouping: read so here too, or the coordinator and the agents choose apart)
  const publicGroups = r.groupKeys !== undefined || r.groupBy === undefined || r.groupBy === null || (Array.isArray(r.groupBy) && r.groupBy.length === 0);
  return publicGroups;
}

/** @throws FedmeshError INVALID_JOB naming the field */
export function parseAggregateSpec(raw: unknown): AggregateSpec {
  const spec = parseJobSpec(raw);
  if (spec.kind !== 'aggregate') throw new FedmeshError('INVALID_JOB', 'kind: must be aggregate', { field: 'kind' });
  // The mesh's sites-per-person floor goes into the spec in the DP modes, as the built-in admission writes it: the
  // stored and hashed spec states the assumption noised for.
  if (spec.privacy.mode !== 'none') spec.privacy.maxSitesPerPerson = Math.max(spec.privacy.maxSitesPerPerson ?? 1, 1);
  return spec;
}
