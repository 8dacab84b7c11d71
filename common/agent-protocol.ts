/** Domain types of the agent link (what travels on the agent's bidirectional stream), transport-free. */
import type { IdentityAttestation } from './secure/identity-attestation.js';
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
  /** `secureMaxRows`: the largest per-agent bound of a secure job this agent accepts (absent: the default). */
  policy: { minCellSize: number; allowModes: string[]; allowKinds: string[]; secureMaxRows?: number };
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
}

export type AgentTaskReply =
  | { ok: true; taskId: string; arrow: Uint8Array; meta: Record<string, unknown>; /** Protocol message of secure rounds (SecAgg message, HE ciphertexts). */ payload?: Uint8Array }
  | { ok: false; taskId: string; error: { code: string; message: string; field: string } };

export const FEDMESH_VERSION = '0.1.0';
