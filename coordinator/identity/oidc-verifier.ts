/**
 * OpenID Connect bearer tokens at the coordinator: a JWT verified with `jose` against the issuer's JWKS (fetched
 * over HTTPS, cached), with issuer, audience, allowed algorithms, expiry and clock skew enforced, then mapped to a
 * Principal with attributes. Every refusal is UNAUTHENTICATED and says why in fixed words, never echoing the token.
 */
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTPayload } from 'jose';
import { FedmeshError } from '../../common/errors.js';
import type { Principal } from '../principal.js';
import { compileClaimsMap, mapClaims, type ClaimsMapOptions, type CompiledClaimsMap } from './claims-map.js';
import { createJwksFetch } from './jwks-fetch.js';

export interface OidcOptions {
  /** The issuer (`iss`) tokens must carry, e.g. https://login.example.org/realms/research. */
  issuer: string;
  /** The audience (`aud`) tokens must be issued for. */
  audience: string;
  /** The issuer's JWKS URL (https). */
  jwksUrl: string;
  /** Trusted CA certificates (PEM) for the JWKS endpoint. @default Node's public roots */
  jwksCa?: Buffer;
  /** Signature algorithms accepted; `none` and HS* are refused (a public JWKS cannot verify a shared secret). @default ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'] */
  algorithms?: string[];
  /** Clock skew tolerated on `exp`, `nbf` and `iat`. @default 60 */
  clockSkewSec?: number;
  /** Longest token accepted, checked before anything is decoded. @default 8192 */
  maxTokenBytes?: number;
  /** How long fetched keys are used before the JWKS is fetched again. @default 600000 */
  jwksCacheMs?: number;
  /** JWKS fetch timeout. @default 5000 */
  jwksTimeoutMs?: number;
  claims?: ClaimsMapOptions;
}

export interface CompiledOidcOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUrl: URL;
  readonly jwksCa: Buffer | undefined;
  readonly algorithms: readonly string[];
  readonly clockSkewSec: number;
  readonly maxTokenBytes: number;
  readonly jwksCacheMs: number;
  readonly jwksTimeoutMs: number;
  readonly claims: CompiledClaimsMap;
}

export const DEFAULT_OIDC_ALGORITHMS: readonly string[] = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'];
const ASYMMETRIC = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);

function positiveInt(v: number, name: string, max: number): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`options.oidc.${name} must be an integer between 0 and ${max}, got ${String(v)}`);
  return v;
}

/** @throws RangeError naming the option */
export function compileOidcOptions(o: OidcOptions): CompiledOidcOptions {
  if (!o.issuer || typeof o.issuer !== 'string') throw new RangeError('options.oidc.issuer (--oidc-issuer) is required');
  if (!o.audience || typeof o.audience !== 'string') throw new RangeError('options.oidc.audience (--oidc-audience) is required');
  let jwksUrl: URL;
  try {
    jwksUrl = new URL(o.jwksUrl);
  } catch {
    throw new RangeError('options.oidc.jwksUrl (--oidc-jwks) must be a URL');
  }
  if (jwksUrl.protocol !== 'https:') throw new RangeError('options.oidc.jwksUrl (--oidc-jwks) must be an https URL: keys fetched in plaintext could be swapped on the way');
  const algorithms = o.algorithms ?? [...DEFAULT_OIDC_ALGORITHMS];
  if (algorithms.length === 0) throw new RangeError('options.oidc.algorithms must allow at least one algorithm');
  for (const a of algorithms) {
    if (a === 'none') throw new RangeError('options.oidc.algorithms: none is never accepted (an unsigned token proves nothing)');
    if (/^HS/.test(a)) throw new RangeError(`options.oidc.algorithms: ${a} is a shared-secret algorithm; verified against a public JWKS it would let anyone holding the public key sign tokens`);
    if (!ASYMMETRIC.has(a)) throw new RangeError(`options.oidc.algorithms: unknown algorithm ${JSON.stringify(a)} (known: ${[...ASYMMETRIC].join(', ')})`);
  }
  return Object.freeze({
    issuer: o.issuer,
    audience: o.audience,
    jwksUrl,
    jwksCa: o.jwksCa,
    algorithms: Object.freeze([...algorithms]),
    clockSkewSec: positiveInt(o.clockSkewSec ?? 60, 'clockSkewSec', 600),
    maxTokenBytes: positiveInt(o.maxTokenBytes ?? 8192, 'maxTokenBytes', 65536),
    jwksCacheMs: positiveInt(o.jwksCacheMs ?? 600_000, 'jwksCacheMs', 86_400_000),
    jwksTimeoutMs: positiveInt(o.jwksTimeoutMs ?? 5000, 'jwksTimeoutMs', 60_000),
    claims: compileClaimsMap(o.claims ?? {}),
  });
}

/** A compact JWS: three base64url segments (the signature may not be empty, so `alg: none` fails here or at jose). */
const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

function refused(why: string, cause?: unknown): FedmeshError {
  return new FedmeshError('UNAUTHENTICATED', `bearer token refused: ${why}`, { ...(cause ? { cause } : {}), details: { reason: why } });
}

/** Why jose refused a token, in fixed words (its own messages may quote claim values). */
function reasonOf(e: unknown): string {
  if (e instanceof errors.JWTExpired) return 'expired';
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'iss') return 'wrong issuer';
    if (e.claim === 'aud') return 'wrong audience';
    if (e.claim === 'nbf') return 'not yet valid (nbf)';
    if (e.claim === 'iat') return 'issued in the future (iat)';
    if (e.claim === 'exp') return 'no expiry (exp)';
    return `claim ${e.claim.slice(0, 32)} is not valid`;
  }
  if (e instanceof errors.JOSEAlgNotAllowed || e instanceof errors.JOSENotSupported) return 'unsupported algorithm';
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (e instanceof errors.JWKSNoMatchingKey) return "signing key not in the issuer's JWKS";
  if (e instanceof errors.JWKSMultipleMatchingKeys) return "several keys in the issuer's JWKS match: the token must name its key (kid)";
  if (e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid) return "the issuer's keys (JWKS) could not be fetched; try again";
  if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid || e instanceof errors.JOSEError) return 'malformed token';
  return "the issuer's keys (JWKS) could not be fetched; try again";
}

export interface OidcVerifier {
  readonly options: CompiledOidcOptions;
  /**
   * The Principal a bearer token proves.
   * @throws FedmeshError UNAUTHENTICATED saying why (expired, wrong issuer, wrong audience, bad signature, unsupported algorithm, ...)
   */
  verify(token: string): Promise<Principal>;
}

/** @throws RangeError naming the option */
export function createOidcVerifier(options: OidcOptions): OidcVerifier {
  const o = compileOidcOptions(options);
  const jwks = createRemoteJWKSet(o.jwksUrl, {
    cacheMaxAge: o.jwksCacheMs,
    timeoutDuration: o.jwksTimeoutMs,
    // A token naming an unknown kid re-fetches the JWKS (key rotation), at most this often.
    cooldownDuration: 30_000,
    [customFetch]: createJwksFetch(o.jwksCa ? { ca: o.jwksCa } : {}),
  });
  return {
    options: o,
    async verify(token: string): Promise<Principal> {
      // Size and shape first: nothing is decoded from an oversized or non-compact token.
      if (typeof token !== 'string' || token.length === 0) throw refused('empty token');
      if (Buffer.byteLength(token) > o.maxTokenBytes) throw refused(`longer than ${o.maxTokenBytes} bytes`);
      if (!COMPACT.test(token)) throw refused('malformed token (not a compact JWS)');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, jwks, { issuer: o.issuer, audience: o.audience, algorithms: [...o.algorithms], clockTolerance: o.clockSkewSec, requiredClaims: ['exp'] }));
      } catch (e) {
        throw refused(reasonOf(e), e);
      }
      const mapped = mapClaims(payload as Record<string, unknown>, o.claims);
      return { name: mapped.name, isAdmin: mapped.isAdmin, authenticatedBy: 'oidc', attributes: mapped.attributes };
    },
  };
}
