import type { AgentSessionReport } from './agent-stream.js';
import type { CoordinatorCase } from './coordinator-cases.js';
import type { CallOutcome } from './wire.js';

/**
 * KNOWN FAILURES, gated so CI stays green until the fixes from the other issue-8 workstreams are merged. The lead
 * empties this list after merging: every entry must then disappear with no other test change. The campaign prints
 * how many inputs each gate held back, so nothing is skipped silently.
 *
 * - `skip` gates keep an input from being sent at all (it would hang or kill the mesh and end the run);
 * - `tolerate` gates accept a known-wrong outcome (e.g. INTERNAL instead of INVALID_ARGUMENT) and count it;
 * - `skipArrow` gates keep the hostile agent from sending some kinds of Arrow bytes.
 */
export interface KnownFailureGate {
  id: string;
  /** The issue-8 item whose fix removes this gate. */
  item: string;
  description: string;
  skip?: (c: CoordinatorCase) => boolean;
  tolerate?: (c: CoordinatorCase | AgentSessionReport, o: CallOutcome) => boolean;
  skipArrow?: (what: string) => boolean;
}

export const KNOWN_FAILURES: KnownFailureGate[] = [];
