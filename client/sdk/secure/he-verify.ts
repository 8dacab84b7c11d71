/**
 * Before an HE result is decrypted, the researcher's client checks that every contributor encrypted for the job IT
 * submitted (red-team finding F2). The agents each sign `<job>/he/<sha256 of the spec they were given>` with their
 * attested identity key (common/secure/he-binding.ts); checking those signatures against the spec the COORDINATOR
 * returns proves nothing against a malicious coordinator, which can store and send every agent a spec carrying its
 * own HE public key (every agent then encrypts for the coordinator, which decrypts each contribution, re-encrypts the
 * sum under the researcher's key and returns the altered spec — the bindings match it). So the client rebuilds the
 * spec the agents must have signed from its own submission:
 *
 * - everything the researcher wrote, as the shared parser normalises it (`parseJobSpec`), must be unchanged — in
 *   particular `he.publicKey` (equal to this client's key pair) and `he.plan`;
 * - only the fields coordinator admission writes may differ, each validated in form:
 *   `privacy.maxSitesPerPerson` (raised to the mesh floor in the DP modes, never lowered; removed under linkage),
 *   `privacy.linkage` (filled with the site partition and salt: sorted distinct names among the participants this
 *   client fixed, a hex salt), and `secureMaxRows` (filled in mode none with the agents' agreed bound);
 * - every contributor's binding must name the round id of THAT spec and be signed by an identity key its agent
 *   certificate vouches for under the mesh CA; contributors are among the participants this client fixed and at least
 *   as many as the job's threshold and honest-share floor.
 *
 * Without a mesh CA nothing can be verified, so the client refuses to decrypt (and, earlier, to submit).
 */
import { FedmeshError } from '../../../common/errors.js';
import { isFilledLinkage, canonicalJson, parseJobSpec } from '../../../common/job/index.js';
import type { JobSpec } from '../../../common/job/index.js';
import { verifyHeBindings } from '../../../common/secure/index.js';
import type { JobView } from '../types.js';
import type { SecureCellPlan, SecureJobPlan } from '../../../common/secure/index.js';

/** What this check needs of a prepared HE job (client/secure/he-client.ts PreparedHeJob). */
export interface PreparedHeView {
  /** The spec this client submitted. */
  spec: Record<string, unknown>;
  keyPair: { publicKey: Uint8Array };
  secure?: Pick<SecureJobPlan, 'threshold' | 'noise'>;
  cells?: Pick<SecureCellPlan, 'threshold' | 'noise'>;
}

/** How a researcher supplies the mesh CA, named in every refusal that lacks it. */
export const MESH_CA_HINT =
  "CLI: connect over mTLS with --tls-dir DIR (or FEDMESH_TLS_DIR, or tlsDir in a config profile) whose ca.crt is the mesh CA made by `fedmesh certs`, not --insecure; SDK: connect({ tlsDir }) or new CoordinatorClient({ ..., meshCa: <PEM of the CA that issued the agents' certificates> })";

/**
 * Refuses an HE job the client could not verify: without the mesh CA the agents' signed bindings cannot be checked.
 * Called before submitting (nothing is charged) and again before decrypting.
 * @throws FedmeshError FAILED_PRECONDITION naming the option `meshCa` and how to supply it
 */
export function requireMeshCa(meshCa: Buffer | string | undefined, what: string): asserts meshCa is Buffer | string {
  if (meshCa === undefined || meshCa.length === 0) {
    throw new FedmeshError('FAILED_PRECONDITION', `he: refusing to ${what}: meshCa is not set, so the agents' signed bindings of their ciphertexts to this job's spec cannot be verified (a coordinator could have had them encrypt under another key). ${MESH_CA_HINT}`, { field: 'meshCa' });
  }
}

const refuse = (jobId: string, field: string, why: string): FedmeshError =>
  new FedmeshError('FAILED_PRECONDITION', `he: refusing to decrypt job ${jobId}: ${field}: ${why}`, { field });

/** The first top-level (or privacy.*) field where two parsed specs differ, for the refusal message. */
function firstDifference(a: JobSpec, b: JobSpec): string | undefined {
  const x = a as unknown as Record<string, unknown>;
  const y = b as unknown as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
  for (const k of keys) {
    if (canonicalJson(x[k]) === canonicalJson(y[k])) continue;
    if (k === 'privacy' || k === 'he') {
      const px = (x[k] ?? {}) as Record<string, unknown>;
      const py = (y[k] ?? {}) as Record<string, unknown>;
      const sub = [...new Set([...Object.keys(px), ...Object.keys(py)])].sort().find((s) => canonicalJson(px[s]) !== canonicalJson(py[s]));
      if (sub !== undefined) return `${k}.${sub}`;
    }
    return k;
  }
  return undefined;
}

/**
 * The spec the agents must have signed: this client's submission, parsed, with the coordinator-filled fields taken
 * from the coordinator's spec once their form is checked.
 * @throws FedmeshError FAILED_PRECONDITION naming the field the coordinator changed or filled wrongly
 */
export function expectedHeSpec(jobId: string, own: JobSpec, got: JobSpec): JobSpec {
  const expected = structuredClone(own);
  if (own.privacy.linkage !== undefined) {
    const l = got.privacy.linkage;
    if (!isFilledLinkage(l)) throw refuse(jobId, 'privacy.linkage', 'the coordinator did not fill in the site partition and salt admission must set');
    const stranger = l.sites.find((s) => !participants(own).has(s));
    if (stranger !== undefined) throw refuse(jobId, 'privacy.linkage.sites', `names ${stranger.slice(0, 100)}, not one of the agents this client fixed for the job`);
    expected.privacy.linkage = { sites: [...l.sites], salt: l.salt };
    // Admission drops the sites-per-person assumption under linkage (the linkage key bounds a person instead).
    delete expected.privacy.maxSitesPerPerson;
  } else if (own.privacy.mode !== 'none' && got.privacy.maxSitesPerPerson !== undefined) {
    const floor = own.privacy.maxSitesPerPerson ?? 1;
    if (got.privacy.maxSitesPerPerson < floor) throw refuse(jobId, 'privacy.maxSitesPerPerson', `the coordinator lowered it from ${floor} to ${got.privacy.maxSitesPerPerson}; it may only raise it to the mesh floor`);
    expected.privacy.maxSitesPerPerson = got.privacy.maxSitesPerPerson;
  }
  if (own.privacy.mode === 'none' && own.secureMaxRows === undefined) {
    // Mode none: admission fills in the bound every agent publishes (each agent verifies it equals its own).
    if (got.secureMaxRows === undefined) throw refuse(jobId, 'secureMaxRows', 'the coordinator did not fill in the agents\' agreed bound admission must set in mode none');
    expected.secureMaxRows = got.secureMaxRows;
  }
  if (got.he?.publicKey !== own.he?.publicKey) {
    throw refuse(jobId, 'he.publicKey', "the coordinator's spec carries another HE public key than the one this client made; agents given it encrypted for whoever holds the matching secret key");
  }
  if (canonicalJson(got.he?.plan) !== canonicalJson(own.he?.plan)) throw refuse(jobId, 'he.plan', "the coordinator's spec carries another BFV plan than the one this client chose");
  const diff = firstDifference(expected, got);
  if (diff !== undefined) throw refuse(jobId, diff, "the coordinator's spec differs from the one this client submitted (outside the fields admission fills in)");
  return expected;
}

/**
 * Verifies a finished HE job against this client's own submission before anything is decrypted.
 * @returns the verified spec (the client's submission with the admission-filled fields), to release with
 * @throws FedmeshError FAILED_PRECONDITION (no mesh CA, a changed spec field, a missing or bad binding, too few
 *   contributors) or UNAUTHENTICATED (an attestation that does not verify under the mesh CA)
 */
export function verifyHeJob(job: JobView, prepared: PreparedHeView, meshCa: Buffer | string | undefined): JobSpec {
  requireMeshCa(meshCa, `decrypt job ${job.jobId}`);
  const own = parseJobSpec(prepared.spec);
  const ownKey = Buffer.from(prepared.keyPair.publicKey).toString('base64');
  if (own.he?.publicKey !== ownKey) throw refuse(job.jobId, 'he.publicKey', "the prepared spec does not carry this client's public key");
  if (job.spec === undefined || job.specSummarised) throw refuse(job.jobId, 'spec', 'the coordinator returned no full spec to verify the agents\' bindings against');
  let got: JobSpec;
  try {
    got = parseJobSpec(job.spec);
  } catch (e) {
    throw refuse(job.jobId, 'spec', `the coordinator's spec does not parse: ${(e as Error).message.slice(0, 200)}`);
  }
  const expected = expectedHeSpec(job.jobId, own, got);
  const he = (job.result?.summary?.he ?? {}) as { contributors?: unknown; bindings?: unknown };
  const contributors = Number(he.contributors);
  const plan = prepared.secure ?? prepared.cells;
  const floor = Math.max(1, plan?.threshold ?? 1, (prepared.secure?.noise ?? prepared.cells?.noise)?.minHonestShares ?? 0);
  if (!Number.isSafeInteger(contributors) || contributors < floor) {
    throw refuse(job.jobId, 'he.contributors', `the coordinator reports ${String(he.contributors).slice(0, 20)} contributors; this job needs at least ${floor}`);
  }
  try {
    verifyHeBindings(he.bindings, contributors, job.jobId, expected, meshCa);
  } catch (e) {
    if (e instanceof FedmeshError && e.code === 'UNAUTHENTICATED') {
      throw new FedmeshError('UNAUTHENTICATED', `he: refusing to decrypt job ${job.jobId}: ${e.message}. Is meshCa the CA that issued the agents' certificates? ${MESH_CA_HINT}`, { field: 'meshCa', cause: e });
    }
    throw e;
  }
  for (const b of he.bindings as { binding: { agent: string } }[]) {
    if (!participants(own).has(b.binding.agent)) throw refuse(job.jobId, 'agents', `contributor ${b.binding.agent.slice(0, 100)} is not one of the agents this client fixed for the job`);
  }
  return expected;
}

function participants(spec: JobSpec): Set<string> {
  return new Set(spec.agents ?? []);
}
