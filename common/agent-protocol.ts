/** Domain types of the agent link (what travels on the agent's bidirectional stream), transport-free. */
import type { IdentityAttestation } from './secure/identity-attestation.js';
import type { ConceptNameEntry } from './job/concept-names.js';
export interface ProductDescriptor {
  name: string;
  columns: { name: string; type: string }[];
  privacyUnit: string;
  description: string;
  metadata: Record<string, unknown>;
}

export interface AgentRegistration {
  name: string;
  domain: string;
  products: ProductDescriptor[];
  version: string;
  policy: { minCellSize: number; allowModes: string[]; allowKinds: string[] };
  /** The agent's long-term Ed25519 identity key, signed with its mTLS certificate key (absent without TLS). */
  identity?: IdentityAttestation;
}

export interface AgentTask {
  taskId: string;
  jobId: string;
  kind: string;
  specJson: string;
  deadlineMs: number;
  round: number;
  researcher: string;
  payload: Uint8Array;
  /** Kind `concept-names` only: released concept ids whose names the coordinator asks the agent's vocabulary for. */
  conceptIds?: number[];
}

export type AgentTaskReply =
  | {
      ok: true;
      taskId: string;
      arrow: Uint8Array;
      meta: Record<string, unknown>;
      /** Protocol message of secure rounds (SecAgg message, HE ciphertexts). */
      payload?: Uint8Array;
      /** Answer to a `concept-names` task: vocabulary rows for the ids asked (unchecked until the coordinator checks them). */
      conceptNames?: ConceptNameEntry[];
    }
  | { ok: false; taskId: string; error: { code: string; message: string; field: string } };

export const FEDMESH_VERSION = '0.1.0';
