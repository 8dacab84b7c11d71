/**
 * A compact binary envelope for protocol messages on the agent link (`Task.payload`, `TaskResult.payload`): the
 * message as JSON with every `Uint8Array` replaced by a reference, followed by the raw byte blobs. Large masked
 * vectors and ciphertexts travel as bytes, not base64.
 *
 * Layout: u32 LE json length · json (UTF-8) · u32 blob count · (u32 LE length · bytes)*.
 */
import { FedmeshError } from '../errors.js';

const MAX_BLOBS = 1 << 20;

function replaceBytes(value: unknown, blobs: Uint8Array[]): unknown {
  if (value instanceof Uint8Array) {
    blobs.push(value);
    return { $b: blobs.length - 1 };
  }
  if (Array.isArray(value)) return value.map((v) => replaceBytes(v, blobs));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, replaceBytes(v, blobs)]));
  }
  return value;
}

function restoreBytes(value: unknown, blobs: readonly Uint8Array[]): unknown {
  if (Array.isArray(value)) return value.map((v) => restoreBytes(v, blobs));
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === '$b') {
      const i = o.$b;
      if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= blobs.length) throw new RangeError('envelope: bad blob reference');
      return blobs[i];
    }
    return Object.fromEntries(keys.map((k) => [k, restoreBytes(o[k], blobs)]));
  }
  return value;
}

export function encodeEnvelope(message: unknown): Uint8Array {
  const blobs: Uint8Array[] = [];
  const json = new TextEncoder().encode(JSON.stringify(replaceBytes(message, blobs)));
  const total = 8 + json.length + blobs.reduce((a, b) => a + 4 + b.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length, true);
  out.set(json, 4);
  let at = 4 + json.length;
  view.setUint32(at, blobs.length, true);
  at += 4;
  for (const b of blobs) {
    view.setUint32(at, b.length, true);
    out.set(b, at + 4);
    at += 4 + b.length;
  }
  return out;
}

/** @throws FedmeshError INVALID_ARGUMENT for a malformed envelope */
export function decodeEnvelope(bytes: Uint8Array, what = 'payload'): unknown {
  try {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const need = (n: number, at: number): void => {
      if (at + n > bytes.length) throw new RangeError('truncated');
    };
    need(4, 0);
    const jsonLen = view.getUint32(0, true);
    need(jsonLen + 4, 4);
    const json = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(4, 4 + jsonLen));
    let at = 4 + jsonLen;
    const count = view.getUint32(at, true);
    if (count > MAX_BLOBS) throw new RangeError('too many blobs');
    at += 4;
    const blobs: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      need(4, at);
      const len = view.getUint32(at, true);
      need(len, at + 4);
      blobs.push(bytes.subarray(at + 4, at + 4 + len));
      at += 4 + len;
    }
    if (at !== bytes.length) throw new RangeError('trailing bytes');
    return restoreBytes(JSON.parse(json) as unknown, blobs);
  } catch (e) {
    throw new FedmeshError('INVALID_ARGUMENT', `malformed ${what}: ${(e as Error).message}`, { cause: e });
  }
}
