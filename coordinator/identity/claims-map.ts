/**
 * How an identity provider's token claims become a researcher's attributes. Identity providers disagree on claim
 * names (Keycloak puts roles under `realm_access.roles`, Entra ID under `roles`, organisations are custom claims), so
 * the mapping is configuration, read once and validated with messages that name the key.
 */
import { FedmeshError } from '../../common/errors.js';
import type { PrincipalAttributes } from '../principal.js';

export interface ClaimsMapOptions {
  /** Claim (dot path) holding the researcher's name; it must be a fedmesh name (letters, digits, _ . -). @default 'sub' */
  name?: string;
  /** Claim holding the organisation. @default 'org' */
  organisation?: string;
  /** Claim holding the roles (a string or a list of strings). @default 'roles' */
  roles?: string;
  /** Claim holding the approved purposes of use (HL7 PurposeOfUse codes). @default 'purposes' */
  purposes?: string;
  /** Claim holding the projects / approval ids the researcher works under. @default 'projects' */
  projects?: string;
  /** Role a researcher must hold to submit jobs. @default 'researcher' */
  researcherRole?: string;
  /** Role that makes the caller an administrator (sees every job, sets budgets). @default 'fedmesh-admin' */
  adminRole?: string;
}

export type CompiledClaimsMap = Readonly<Required<ClaimsMapOptions>>;

const KEYS: readonly (keyof ClaimsMapOptions)[] = ['name', 'organisation', 'roles', 'purposes', 'projects', 'researcherRole', 'adminRole'];
const CLAIM_PATH = /^[A-Za-z0-9_:-]{1,64}(\.[A-Za-z0-9_:-]{1,64}){0,4}$/;
/** Researcher names are ledger keys and appear in logs: the same alphabet as certificate names. */
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** Most values one list claim may carry, and the longest value: attributes are bounded like every other input. */
export const MAX_CLAIM_VALUES = 64;
export const MAX_CLAIM_VALUE_CHARS = 128;

/** @throws RangeError naming the key */
export function compileClaimsMap(o: ClaimsMapOptions = {}, where = 'claims map'): CompiledClaimsMap {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new RangeError(`${where} must be a JSON object`);
  for (const k of Object.keys(o)) if (!(KEYS as readonly string[]).includes(k)) throw new RangeError(`${where}: unknown key ${JSON.stringify(k)} (known: ${KEYS.join(', ')})`);
  const out: Required<ClaimsMapOptions> = { name: 'sub', organisation: 'org', roles: 'roles', purposes: 'purposes', projects: 'projects', researcherRole: 'researcher', adminRole: 'fedmesh-admin', ...o };
  for (const k of ['name', 'organisation', 'roles', 'purposes', 'projects'] as const) {
    if (typeof out[k] !== 'string' || !CLAIM_PATH.test(out[k])) throw new RangeError(`${where}.${k} must be a claim name or dot path (e.g. realm_access.roles)`);
  }
  for (const k of ['researcherRole', 'adminRole'] as const) {
    if (typeof out[k] !== 'string' || out[k].length === 0 || out[k].length > MAX_CLAIM_VALUE_CHARS) throw new RangeError(`${where}.${k} must be a non-empty role name`);
  }
  return Object.freeze(out);
}

function at(payload: Record<string, unknown>, path: string): unknown {
  let v: unknown = payload;
  for (const part of path.split('.')) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function list(payload: Record<string, unknown>, path: string): string[] {
  const v = at(payload, path);
  if (v === undefined || v === null) return [];
  const values = typeof v === 'string' ? v.split(' ').filter((s) => s.length > 0) : v;
  if (!Array.isArray(values) || values.length > MAX_CLAIM_VALUES || values.some((x) => typeof x !== 'string' || x.length === 0 || x.length > MAX_CLAIM_VALUE_CHARS)) {
    throw new FedmeshError('UNAUTHENTICATED', `bearer token refused: claim ${path} must be a string or a list of at most ${MAX_CLAIM_VALUES} strings of at most ${MAX_CLAIM_VALUE_CHARS} characters`);
  }
  return [...new Set(values as string[])];
}

/**
 * The researcher a verified token names, with attributes.
 * @throws FedmeshError UNAUTHENTICATED naming the claim at fault (never echoing the token)
 */
export function mapClaims(payload: Record<string, unknown>, map: CompiledClaimsMap): { name: string; isAdmin: boolean; attributes: PrincipalAttributes } {
  const name = at(payload, map.name);
  if (typeof name !== 'string' || !NAME.test(name)) throw new FedmeshError('UNAUTHENTICATED', `bearer token refused: claim ${map.name} must be a researcher name (1 to 64 letters, digits, _ . -)`);
  const org = at(payload, map.organisation);
  if (org !== undefined && (typeof org !== 'string' || org.length === 0 || org.length > MAX_CLAIM_VALUE_CHARS)) throw new FedmeshError('UNAUTHENTICATED', `bearer token refused: claim ${map.organisation} must be a string of at most ${MAX_CLAIM_VALUE_CHARS} characters`);
  const roles = list(payload, map.roles);
  const isAdmin = roles.includes(map.adminRole);
  if (!isAdmin && !roles.includes(map.researcherRole)) {
    throw new FedmeshError('UNAUTHENTICATED', `bearer token refused: claim ${map.roles} holds neither the researcher role (${map.researcherRole}) nor the administrator role`, { details: { role: 'none' } });
  }
  return { name, isAdmin, attributes: Object.freeze({ ...(typeof org === 'string' ? { organisation: org } : {}), roles, purposes: list(payload, map.purposes), projects: list(payload, map.projects) }) };
}
