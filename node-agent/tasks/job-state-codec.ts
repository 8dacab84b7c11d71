/**
 * The on-disk form of job-state values a kind declares durable (AgentKindDef.durableState): Float32Array and
 * Float64Array as base64 of their little-endian bytes (bit-exact, NaN payloads and −0 included), plain JSON values
 * (null, booleans, strings, numbers, arrays, plain objects) with every number kept exactly, and nothing else. Each
 * value carries a type tag, so a plain object can never be read back as a typed array or the other way round.
 */

/** A tagged value as stored. */
export type EncodedStateValue =
  | { readonly t: 'f32' | 'f64'; readonly b64: string }
  | { readonly t: 'num'; readonly v: number | 'NaN' | 'Infinity' | '-Infinity' | '-0' }
  | { readonly t: 'json'; readonly v: null | boolean | string }
  | { readonly t: 'arr'; readonly v: readonly EncodedStateValue[] }
  | { readonly t: 'obj'; readonly v: Readonly<Record<string, EncodedStateValue>> };

/** Nesting refused beyond this depth (a kind's state is shallow; a crafted file must not exhaust the stack). */
export const MAX_STATE_DEPTH = 32;

const SPECIAL_NUMBERS = ['NaN', 'Infinity', '-Infinity', '-0'] as const;

/** Whether this host stores typed arrays little-endian (every platform Node supports today, but not by definition). */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses the bytes of each `width`-byte value in place (host order ⇄ little-endian on a big-endian host). */
function swapEach(bytes: Uint8Array, width: number): void {
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

function typedToBase64(a: Float32Array | Float64Array): string {
  // The bytes themselves, never the values: reading a float32 NaN into a JS number may change its payload.
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
  // Little-endian whatever the host, so a state folder moved to another machine reads back the same bits.
  if (!HOST_LITTLE_ENDIAN) swapEach(bytes, a.BYTES_PER_ELEMENT);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function base64ToTyped(t: 'f32' | 'f64', b64: unknown, at: string): Float32Array | Float64Array {
  if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new TypeError(`${at}: ${t} bytes are not base64`);
  const width = t === 'f32' ? 4 : 8;
  const decoded = Buffer.from(b64, 'base64');
  if (decoded.length % width !== 0) throw new TypeError(`${at}: ${decoded.length} bytes is not a whole number of ${t} values`);
  // A fresh, aligned buffer (a Buffer may sit at any offset of Node's pool).
  const bytes = new Uint8Array(decoded);
  if (!HOST_LITTLE_ENDIAN) swapEach(bytes, width);
  return t === 'f32' ? new Float32Array(bytes.buffer) : new Float64Array(bytes.buffer);
}

function encodeNumber(v: number): EncodedStateValue {
  if (Number.isNaN(v)) return { t: 'num', v: 'NaN' };
  if (v === Infinity) return { t: 'num', v: 'Infinity' };
  if (v === -Infinity) return { t: 'num', v: '-Infinity' };
  // JSON writes −0 as 0.
  if (Object.is(v, -0)) return { t: 'num', v: '-0' };
  return { t: 'num', v };
}

/**
 * The stored form of a job-state value.
 * @throws TypeError naming the value's path (`at`) for anything but a Float32Array, a Float64Array or a plain JSON
 *   value: a kind that declares an entry durable must keep it in a form that reads back as it was
 */
export function encodeStateValue(v: unknown, at: string, depth = 0): EncodedStateValue {
  if (depth > MAX_STATE_DEPTH) throw new TypeError(`${at}: nested deeper than ${MAX_STATE_DEPTH}`);
  if (v instanceof Float32Array) return { t: 'f32', b64: typedToBase64(v) };
  if (v instanceof Float64Array) return { t: 'f64', b64: typedToBase64(v) };
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return { t: 'json', v };
  if (typeof v === 'number') return encodeNumber(v);
  if (Array.isArray(v)) return { t: 'arr', v: v.map((x, i) => encodeStateValue(x, `${at}[${i}]`, depth + 1)) };
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto === Object.prototype || proto === null) {
      return { t: 'obj', v: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encodeStateValue(x, `${at}.${k}`, depth + 1)])) };
    }
  }
  const what = typeof v === 'object' ? ((v as object).constructor?.name ?? 'object') : typeof v;
  throw new TypeError(`${at}: a durable job-state value must be a Float32Array, a Float64Array or plain JSON, not ${what}`);
}

/**
 * A job-state value from its stored form.
 * @throws TypeError naming the value's path (`at`) and what is wrong with it
 */
export function decodeStateValue(raw: unknown, at: string, depth = 0): unknown {
  if (depth > MAX_STATE_DEPTH) throw new TypeError(`${at}: nested deeper than ${MAX_STATE_DEPTH}`);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new TypeError(`${at}: not a tagged value`);
  const { t, v, b64 } = raw as { t?: unknown; v?: unknown; b64?: unknown };
  switch (t) {
    case 'f32':
    case 'f64':
      return base64ToTyped(t, b64, at);
    case 'num':
      if (typeof v === 'number' && Number.isFinite(v)) return v;
      if ((SPECIAL_NUMBERS as readonly unknown[]).includes(v)) return v === '-0' ? -0 : Number(v);
      throw new TypeError(`${at}: not a number`);
    case 'json':
      if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
      throw new TypeError(`${at}: not null, a boolean or a string`);
    case 'arr':
      if (!Array.isArray(v)) throw new TypeError(`${at}: not an array`);
      return v.map((x, i) => decodeStateValue(x, `${at}[${i}]`, depth + 1));
    case 'obj':
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`${at}: not an object`);
      // fromEntries defines own properties: a key "__proto__" stays a key and never sets the prototype.
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decodeStateValue(x, `${at}.${k}`, depth + 1)]));
    default:
      throw new TypeError(`${at}: unknown type tag`);
  }
}
