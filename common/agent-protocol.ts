/** Domain types of the agent link (what travels on the agent's bidirectional stream), transport-free. */
import type { IdentityAttestation } from './secure/index.js';
import type { ConceptNameEntry } from './job/index.js';
export interface ProductDescriptor {
  name: string;
  columns: { name: string; type: string }[];
  privacyUnit: string;
  description: string;
  metadata: Record<string, unknown>;
}

/** One ingest problem as an agent publishes it: names the file or format and what is wrong, never a value. */
export interface IngestNotice {
  severity: 'error' | 'warning';
  /** The file (relative to the data folder), the format (`omop`, `fhir`) or the manifest the notice is about. */
  source: string;
  message: string;
}

/**
 * The state of an agent's last ingest, as it registers it: `failed` when a format set or a file was refused (the
 * agent keeps serving what it had before), `warnings` when everything loaded with something to say.
 */
export interface IngestStatus {
  state: 'ok' | 'warnings' | 'failed';
  /** What failed: `omop`, `fhir` or a file name. */
  failed: string[];
  /** Errors first, then warnings; at most `INGEST_STATUS_LIMITS.maxNotices`. */
  notices: IngestNotice[];
  /** Notices left out to respect the cap. */
  omitted: number;
  /** When the agent last (re)read its data folder. */
  atMs: number;
}

export const INGEST_STATES: readonly IngestStatus['state'][] = ['ok', 'warnings', 'failed'];

/** Bounds on the ingest status one registration may carry (agents publish within them; the coordinator enforces them). */
export const INGEST_STATUS_LIMITS = Object.freeze({
  maxNotices: 20,
  maxFailed: 20,
  maxSourceChars: 160,
  maxMessageChars: 300,
});

export interface AgentRegistration {
  name: string;
  domain: string;
  products: ProductDescriptor[];
  version: string;
  /** `secureMaxRows`: the largest per-agent bound of a secure job this agent accepts (absent: the default). */
  policy: { minCellSize: number; allowModes: string[]; allowKinds: string[]; secureMaxRows?: number };
  /** The agent's long-term Ed25519 identity key, signed with its mTLS certificate key (absent without TLS). */
  identity?: IdentityAttestation;
  /** The last ingest's state (absent from agents that predate it). */
  ingest?: IngestStatus;
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
  /** The researcher's identity, purpose and attributes, signed by the coordinator and bound to this task (see common/identity). */
  identityAssertion?: string;
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
