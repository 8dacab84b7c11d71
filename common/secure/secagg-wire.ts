/** What the coordinator sends agents in round 1 of a SecAgg job (the later rounds carry SecAgg messages as they are). */
import type { IdentityAttestation } from './identity-attestation.js';

export const SECAGG_ROUNDS = { advertise: 1, share: 2, mask: 3, unmask: 4 } as const;

export interface SecAggRoundStart {
  roundId: string;
  threshold: number;
  /** When the agent may forget this job's protocol state. */
  jobDeadlineMs: number;
  /** Every participant in the agreed order, with its certificate-signed identity key. */
  participants: { id: string; attestation: IdentityAttestation }[];
}
