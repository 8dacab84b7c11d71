/**
 * `fedmesh coordinator --oidc-*`: OpenID Connect settings read once from flags and files, validated with messages
 * that name the flag, before the coordinator starts.
 */
import { readFileSync } from 'node:fs';
import { quote } from '../../../common/errors.js';
import { createOidcVerifier, type ClaimsMapOptions, type OidcVerifier } from '../../../coordinator/identity/index.js';

export interface OidcFlags {
  oidcIssuer?: string;
  oidcAudience?: string;
  oidcJwks?: string;
  oidcJwksCa?: string;
  oidcClaimsMap?: string;
  oidcAlgorithms?: string;
  oidcClockSkewS?: string;
}

function readFlagFile(flag: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new RangeError(`${flag}: cannot read ${quote(path, 200)}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { cause: e });
  }
}

/** The verifier the flags describe, or undefined when no `--oidc-issuer` was given. @throws RangeError naming the flag */
export function oidcFromFlags(f: OidcFlags): OidcVerifier | undefined {
  const given = [f.oidcIssuer, f.oidcAudience, f.oidcJwks, f.oidcJwksCa, f.oidcClaimsMap, f.oidcAlgorithms, f.oidcClockSkewS].some((v) => v !== undefined);
  if (!given) return undefined;
  if (!f.oidcIssuer || !f.oidcAudience || !f.oidcJwks) throw new RangeError('--oidc-issuer, --oidc-audience and --oidc-jwks must be given together');
  let claims: ClaimsMapOptions | undefined;
  if (f.oidcClaimsMap !== undefined) {
    try {
      claims = JSON.parse(readFlagFile('--oidc-claims-map', f.oidcClaimsMap)) as ClaimsMapOptions;
    } catch (e) {
      if (e instanceof RangeError) throw e;
      throw new RangeError(`--oidc-claims-map: ${quote(f.oidcClaimsMap, 200)} is not JSON`, { cause: e });
    }
  }
  const skew = f.oidcClockSkewS === undefined ? undefined : Number(f.oidcClockSkewS);
  if (skew !== undefined && !/^\d+$/.test(f.oidcClockSkewS!.trim())) throw new RangeError(`--oidc-clock-skew-s must be a whole number of seconds, got ${quote(f.oidcClockSkewS)}`);
  try {
    return createOidcVerifier({
      issuer: f.oidcIssuer,
      audience: f.oidcAudience,
      jwksUrl: f.oidcJwks,
      ...(f.oidcJwksCa ? { jwksCa: Buffer.from(readFlagFile('--oidc-jwks-ca', f.oidcJwksCa)) } : {}),
      ...(f.oidcAlgorithms ? { algorithms: f.oidcAlgorithms.split(',').map((a) => a.trim()).filter(Boolean) } : {}),
      ...(skew !== undefined ? { clockSkewSec: skew } : {}),
      ...(claims !== undefined ? { claims } : {}),
    });
  } catch (e) {
    // Name the flag, not the option object, in what the operator reads.
    const m = (e as Error).message.replace('options.oidc.claims', '--oidc-claims-map').replace('claims map', '--oidc-claims-map').replace(/options\.oidc\.(\w+)/, (_x, k: string) => `--oidc-${k.replace('jwksUrl', 'jwks').replace('clockSkewSec', 'clock-skew-s')}`);
    throw new RangeError(m, { cause: e });
  }
}

/** A researcher's bearer token from `--token-file` (trailing newline dropped; size checked before use). */
export function readTokenFile(path: string): string {
  const token = readFlagFile('--token-file', path).trim();
  if (token.length === 0 || token.length > 65_536 || /\s/.test(token)) throw new RangeError(`--token-file: ${quote(path, 200)} must hold one token on one line`);
  return token;
}
