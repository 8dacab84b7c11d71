/**
 * One audit entry is one line of JSON: `{"i":N,"atMs":T,"type":"…",…fields,"sig":"…"}`. The bytes hashed (the
 * Merkle leaf) are the line without its `sig` member, exactly as written: the writer emits canonical JSON (what
 * `JSON.stringify(JSON.parse(x))` gives back unchanged), and a reader demands that form, so an edit that keeps the
 * meaning but changes a byte is still caught. Each entry is also signed (Ed25519 over a domain-separated leaf
 * hash), which is what lets a verifier name the exact entry that was altered, not only the checkpoint it breaks.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { leafHash } from './merkle.js';

/** What a field may hold: identifiers, counts, codes, privacy parameters. Never a data value (callers' duty). */
export type AuditValue = string | number | boolean | null | readonly AuditValue[] | { readonly [k: string]: AuditValue };
export type AuditFields = Record<string, AuditValue | undefined>;

export interface AuditEntry {
  /** Position in the log, from 0, never reused. */
  readonly i: number;
  readonly atMs: number;
  /** Dotted lower-case event name: `job.admitted`, `ledger.reserve`, `auth.failed`. */
  readonly type: string;
  readonly [field: string]: AuditValue | undefined;
}

const TYPE = /^[a-z][a-z0-9-]{0,30}(\.[a-z0-9-]{1,31}){0,3}$/;
const RESERVED = new Set(['i', 'atMs', 'type', 'sig']);
/** The longest entry line written: an event is a few hundred bytes; this bound keeps a bad caller from filling the disk. */
export const MAX_ENTRY_BYTES = 16 * 1024;
/** Strings are cut here: an event names things, it does not carry text. */
export const MAX_STRING_CHARS = 300;
const MAX_DEPTH = 4;
const MAX_ARRAY = 256;

const ENTRY_DOMAIN = Buffer.from('fedmesh-audit-entry-v1\0');

export function isAuditType(t: unknown): t is string {
  return typeof t === 'string' && TYPE.test(t);
}

function bounded(v: unknown, path: string, depth: number): AuditValue {
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError(`audit field ${path} must be a finite number`);
    return v;
  }
  if (typeof v === 'string') return v.length > MAX_STRING_CHARS ? `${v.slice(0, MAX_STRING_CHARS)}…` : v;
  if (depth >= MAX_DEPTH) throw new RangeError(`audit field ${path} is nested too deeply`);
  if (Array.isArray(v)) {
    if (v.length > MAX_ARRAY) throw new RangeError(`audit field ${path} has more than ${MAX_ARRAY} items`);
    return v.map((x, k) => bounded(x, `${path}[${k}]`, depth + 1));
  }
  if (typeof v === 'object') {
    const out: Record<string, AuditValue> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined) out[k] = bounded(x, `${path}.${k}`, depth + 1);
    return out;
  }
  throw new RangeError(`audit field ${path} has an unsupported type ${typeof v}`);
}

/**
 * The canonical text of an entry (without its signature).
 * @throws RangeError for a bad type, a reserved or unsupported field, or an entry over MAX_ENTRY_BYTES
 */
export function entryText(i: number, atMs: number, type: string, fields: AuditFields): string {
  if (!Number.isSafeInteger(i) || i < 0) throw new RangeError('audit entry index must be a non-negative integer');
  if (!isAuditType(type)) throw new RangeError(`audit event type must be dotted lower-case words, got ${JSON.stringify(String(type).slice(0, 40))}`);
  const body: Record<string, AuditValue> = { i, atMs: Math.trunc(atMs), type };
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (RESERVED.has(k)) throw new RangeError(`audit field ${k} is reserved`);
    body[k] = bounded(v, k, 0);
  }
  // One parse round trip settles JavaScript's own key order (integer-like keys first): the text is then a fixed point.
  const text = JSON.stringify(JSON.parse(JSON.stringify(body)));
  if (Buffer.byteLength(text) > MAX_ENTRY_BYTES) throw new RangeError(`audit entry ${type} is over ${MAX_ENTRY_BYTES} bytes`);
  return text;
}

function entryMessage(text: string): Buffer {
  return Buffer.concat([ENTRY_DOMAIN, leafHash(Buffer.from(text))]);
}

/** The line written for an entry: its text with the signature appended as the last member. */
export function signedLine(text: string, key: KeyObject): string {
  const sig = sign(null, entryMessage(text), key).toString('base64');
  return `${text.slice(0, -1)},"sig":"${sig}"}`;
}

export type ParsedLine =
  | { ok: true; entry: AuditEntry; text: string; sig: string; sigOk: boolean }
  | { ok: false; problem: string; claimedIndex?: number };

/** Parses one line (no newline) and checks its form and, with `key`, its signature. Never throws. */
export function parseLine(line: string, key: KeyObject | undefined): ParsedLine {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { ok: false, problem: 'not valid JSON' };
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return { ok: false, problem: 'not a JSON object' };
  const claimedIndex = Number.isSafeInteger(o.i) ? (o.i as number) : undefined;
  const sig = o.sig;
  if (typeof sig !== 'string') return { ok: false, problem: 'has no signature', ...(claimedIndex !== undefined ? { claimedIndex } : {}) };
  delete o.sig;
  const text = JSON.stringify(o);
  if (line !== `${text.slice(0, -1)},"sig":"${sig}"}` || text === '{}') return { ok: false, problem: 'is not in canonical form (bytes changed)', ...(claimedIndex !== undefined ? { claimedIndex } : {}) };
  if (claimedIndex === undefined || typeof o.atMs !== 'number' || !isAuditType(o.type)) return { ok: false, problem: 'lacks i, atMs or type', ...(claimedIndex !== undefined ? { claimedIndex } : {}) };
  return { ok: true, entry: o as unknown as AuditEntry, text, sig, sigOk: key ? verifyEntrySignature(text, sig, key) : false };
}

/** Whether `sig` (base64) signs the entry text `text` under `key`. */
export function verifyEntrySignature(text: string, sig: string, key: KeyObject): boolean {
  try {
    return verify(null, entryMessage(text), key, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}

/**
 * The audit fields of a log event: only the `keep` names, each as a plain JSON scalar (anything else as its
 * string), so messages, specs and data values never reach the trail.
 */
export function pickAuditFields(fields: Record<string, unknown> | undefined, keep: readonly string[]): AuditFields {
  const out: AuditFields = {};
  for (const k of keep) {
    const v = fields?.[k];
    if (v === undefined) continue;
    out[k] = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null ? v : String(v);
  }
  return out;
}
