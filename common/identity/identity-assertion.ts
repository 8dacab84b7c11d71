/**
 * The researcher's identity as the coordinator vouches for it to an agent: who (name, how authenticated,
 * attributes), for what (purpose of use, project), bound to one task (job id, round, spec hash, agent) and short-lived,
 * signed with the coordinator's Ed25519 key. An agent verifies it before anything else, so a domain's policy decides
 * on a signed statement rather than on whatever the transport delivered, and an assertion cannot be replayed for
 * another job, round, spec or agent.
 *
 * Wire form: `base64url(JSON claims) "." base64url(Ed25519 signature over the first part's bytes)`.
 */
import { createHash, sign, verify } from 'node:crypto';
import { ed25519PrivateKeyObject, ed25519PublicKeyObject } from '../crypto/index.js';
import { FedmeshError } from '../errors.js';

export interface AssertedAttributes {
  organisation?: string;
  roles: string[];
  purposes: string[];
  projects: string[];
}

export interface IdentityAssertionClaims {
  v: 1;
  researcher: string;
  authenticatedBy: 'certificate' | 'oidc' | 'insecure';
  attributes: AssertedAttributes;
  /** HL7 PurposeOfUse code the job runs under (the default made explicit). */
  purpose: string;
  project?: string;
  jobId: string;
  round: number;
  /** SHA-256 (hex) of the task's spec JSON, exactly as sent. */
  specSha256: string;
  /** The agent the task was sent to. */
  agent: string;
  issuedAtMs: number;
  expiresAtMs: number;
}

/** Largest assertion an agent decodes (attributes are bounded at the coordinator; this is a ceiling far above). */
export const MAX_ASSERTION_CHARS = 32 * 1024;
/** Clock difference tolerated between coordinator and agent. */
export const ASSERTION_CLOCK_SKEW_MS = 60_000;

export function specSha256Hex(specJson: string): string {
  return createHash('sha256').update(specJson, 'utf8').digest('hex');
}

/** @param privateKey 32 raw bytes (Ed25519 seed) */
export function signIdentityAssertion(claims: IdentityAssertionClaims, privateKey: Uint8Array): string {
  const body = Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url');
  const sig = sign(null, Buffer.from(body, 'ascii'), ed25519PrivateKeyObject(privateKey));
  return `${body}.${sig.toString('base64url')}`;
}

export interface AssertionExpectation {
  jobId: string;
  round: number;
  specJson: string;
  agent: string;
  /** The researcher the task names; the assertion must name the same. */
  researcher: string;
  nowMs: number;
}

function unauthenticated(why: string): FedmeshError {
  return new FedmeshError('UNAUTHENTICATED', `identity assertion refused: ${why}`, { field: 'identity_assertion', details: { reason: why } });
}

function denied(why: string): FedmeshError {
  return new FedmeshError('POLICY_DENIED', `identity assertion refused: ${why}`, { field: 'identity_assertion', details: { reason: why } });
}

const strings = (v: unknown): v is string[] => Array.isArray(v) && v.length <= 64 && v.every((x) => typeof x === 'string' && x.length <= 128);

function checkShape(c: unknown): IdentityAssertionClaims {
  const o = c as Record<string, unknown>;
  const a = (o?.attributes ?? {}) as Record<string, unknown>;
  const ok =
    typeof o === 'object' && o !== null && o.v === 1 && typeof o.researcher === 'string' && ['certificate', 'oidc', 'insecure'].includes(o.authenticatedBy as string) &&
    typeof o.purpose === 'string' && (o.project === undefined || typeof o.project === 'string') && typeof o.jobId === 'string' && Number.isInteger(o.round) &&
    typeof o.specSha256 === 'string' && typeof o.agent === 'string' && Number.isFinite(o.issuedAtMs) && Number.isFinite(o.expiresAtMs) &&
    (a.organisation === undefined || typeof a.organisation === 'string') && strings(a.roles) && strings(a.purposes) && strings(a.projects);
  if (!ok) throw unauthenticated('malformed claims');
  return o as unknown as IdentityAssertionClaims;
}

/**
 * Verifies an assertion with the coordinator's public key and checks it is for this very task.
 * @param publicKey 32 raw bytes
 * @throws FedmeshError UNAUTHENTICATED (missing, malformed, bad signature, expired) or POLICY_DENIED (valid but for
 * another job, round, spec, agent or researcher)
 */
export function verifyIdentityAssertion(token: string | undefined, publicKey: Uint8Array, expect: AssertionExpectation): IdentityAssertionClaims {
  if (!token) throw unauthenticated('the task carries no identity assertion from the coordinator');
  if (token.length > MAX_ASSERTION_CHARS) throw unauthenticated(`longer than ${MAX_ASSERTION_CHARS} characters`);
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{86})$/.exec(token);
  if (!m) throw unauthenticated('malformed (not body.signature)');
  if (!verify(null, Buffer.from(m[1]!, 'ascii'), ed25519PublicKeyObject(publicKey), Buffer.from(m[2]!, 'base64url'))) throw unauthenticated("bad signature (not signed by this agent's coordinator key)");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8'));
  } catch {
    throw unauthenticated('malformed claims');
  }
  const c = checkShape(parsed);
  if (expect.nowMs > c.expiresAtMs + ASSERTION_CLOCK_SKEW_MS) throw unauthenticated('expired');
  if (c.issuedAtMs > expect.nowMs + ASSERTION_CLOCK_SKEW_MS) throw unauthenticated('issued in the future');
  if (c.jobId !== expect.jobId) throw denied('issued for another job');
  if (c.round !== expect.round) throw denied('issued for another round');
  if (c.agent !== expect.agent) throw denied('issued for another agent');
  if (c.specSha256 !== specSha256Hex(expect.specJson)) throw denied('issued for another job spec');
  if (c.researcher !== expect.researcher) throw denied('issued for another researcher');
  return c;
}
