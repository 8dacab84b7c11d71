import { INGEST_STATUS_LIMITS } from '../common/agent-protocol.js';
import { FedmeshError, quote } from '../common/errors.js';

/**
 * Bounds on what one agent may register. The registry keeps every connected agent's products in memory and sends
 * them to every `fedmesh agents` / `catalog` caller, so one oversized or hostile registration must not be able to
 * exhaust the coordinator or push ListAgents past the message limit. Checked on the wire form, before any
 * metadata JSON is parsed.
 */
export const REGISTRATION_LIMITS = Object.freeze({
  /** Data products per agent (a full OMOP CDM is ~40 tables). */
  maxProducts: 512,
  /**
   * Registrations again on one link (data reloads) within a minute. An honest agent re-registers only when its
   * catalogue changed, after a reload at most every 100 ms (`--reload-interval-ms` ≥ 100) or on SIGHUP: twice that
   * rate. Above it the link is dropped (each one is parsed, replaces the catalogue and is answered).
   */
  maxReloadsPerMinute: 1200,
  /** Columns per product. */
  maxColumnsPerProduct: 1024,
  /** metadata_json bytes per product (bounds, tags, coarsened quality). */
  maxMetadataBytesPerProduct: 128 * 1024,
  /** All strings of one registration together. */
  maxRegistrationBytes: 8 * 1024 * 1024,
  /** Product, column, privacy-unit and domain names. */
  maxNameChars: 128,
  maxTypeChars: 64,
  maxDescriptionChars: 4096,
  maxVersionChars: 64,
  maxPolicyJsonBytes: 16 * 1024,
});

/** The registration as it arrives, before parsing. */
export interface RawRegistration {
  name?: string;
  domain?: string;
  version?: string;
  policyJson?: string;
  products?: { name?: string; columns?: { name?: string; type?: string }[]; privacyUnit?: string; description?: string; metadataJson?: string }[];
  ingest?: { state?: string; failed?: string[]; notices?: { severity?: string; source?: string; message?: string }[] } | null;
}

const L = REGISTRATION_LIMITS;

function tooBig(field: string, what: string, limit: number): FedmeshError {
  return new FedmeshError('RESOURCE_EXHAUSTED', `register.${field}: ${what}, over the limit of ${limit.toLocaleString('en-US')}`, { field: `register.${field}` });
}

function str(v: string | undefined, field: string, max: number, counter: { bytes: number }): void {
  const s = v ?? '';
  if (s.length > max) throw new FedmeshError('INVALID_ARGUMENT', `register.${field}: ${s.length} characters, at most ${max} allowed: ${quote(s)}`, { field: `register.${field}` });
  counter.bytes += s.length;
}

/**
 * @throws FedmeshError RESOURCE_EXHAUSTED (too many products or columns, too much metadata) or INVALID_ARGUMENT
 * (an overlong or duplicate name), naming the field
 */
export function checkRegistrationSize(r: RawRegistration): void {
  const counter = { bytes: 0 };
  str(r.domain, 'domain', L.maxNameChars, counter);
  str(r.version, 'version', L.maxVersionChars, counter);
  if ((r.policyJson ?? '').length > L.maxPolicyJsonBytes) throw tooBig('policy_json', `${(r.policyJson ?? '').length} bytes`, L.maxPolicyJsonBytes);
  checkIngestSize(r.ingest, counter);
  const products = r.products ?? [];
  if (products.length > L.maxProducts) throw tooBig('products', `${products.length} products`, L.maxProducts);
  const names = new Set<string>();
  products.forEach((p, i) => {
    const at = `products[${i}]`;
    str(p.name, `${at}.name`, L.maxNameChars, counter);
    if (names.has(p.name ?? '')) throw new FedmeshError('INVALID_ARGUMENT', `register.${at}.name: product ${quote(p.name)} is registered twice`, { field: `register.${at}.name` });
    names.add(p.name ?? '');
    str(p.privacyUnit, `${at}.privacy_unit`, L.maxNameChars, counter);
    str(p.description, `${at}.description`, L.maxDescriptionChars, counter);
    const columns = p.columns ?? [];
    if (columns.length > L.maxColumnsPerProduct) throw tooBig(`${at}.columns`, `${columns.length} columns in product ${quote(p.name)}`, L.maxColumnsPerProduct);
    columns.forEach((c, j) => {
      str(c.name, `${at}.columns[${j}].name`, L.maxNameChars, counter);
      str(c.type, `${at}.columns[${j}].type`, L.maxTypeChars, counter);
    });
    const meta = (p.metadataJson ?? '').length;
    if (meta > L.maxMetadataBytesPerProduct) throw tooBig(`${at}.metadata_json`, `${meta.toLocaleString('en-US')} bytes of metadata in product ${quote(p.name)}`, L.maxMetadataBytesPerProduct);
    counter.bytes += meta;
    if (counter.bytes > L.maxRegistrationBytes) throw tooBig('products', `more than ${L.maxRegistrationBytes.toLocaleString('en-US')} bytes in all`, L.maxRegistrationBytes);
  });
}

const I = INGEST_STATUS_LIMITS;

/** The ingest status is bounded like the rest: a few short notices, so that `catalog` stays small. */
function checkIngestSize(ingest: RawRegistration['ingest'], counter: { bytes: number }): void {
  if (!ingest) return;
  str(ingest.state, 'ingest.state', 16, counter);
  const failed = ingest.failed ?? [];
  if (failed.length > I.maxFailed) throw tooBig('ingest.failed', `${failed.length} entries`, I.maxFailed);
  failed.forEach((f, i) => str(f, `ingest.failed[${i}]`, I.maxSourceChars, counter));
  const notices = ingest.notices ?? [];
  if (notices.length > I.maxNotices) throw tooBig('ingest.notices', `${notices.length} notices`, I.maxNotices);
  notices.forEach((n, i) => {
    str(n.severity, `ingest.notices[${i}].severity`, 16, counter);
    str(n.source, `ingest.notices[${i}].source`, I.maxSourceChars, counter);
    str(n.message, `ingest.notices[${i}].message`, I.maxMessageChars, counter);
  });
}
