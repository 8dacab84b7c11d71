/**
 * The byte strings both sides must derive identically: what is signed, how pairwise keys and seeds come from
 * X25519 secrets, and what is authenticated with each encrypted share. Contexts are JSON arrays of strings so
 * that no two different (roundId, id, id) tuples give the same context, whatever characters the ids contain.
 */
import type { SecAggCrypto } from './crypto.js';
import type { AdvertiseKeysMessage } from './messages.js';

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** Bytes of a self-mask seed b_u. */
export const SEED_BYTES = 32;
/** Bytes of an X25519 private key (the shared agreement secret s_u^SK). */
export const X25519_KEY_BYTES = 32;

/** Length-prefixed (4-byte big-endian) concatenation: an unambiguous encoding of a tuple. */
export function encodeTuple(parts: readonly (string | Uint8Array)[]): Uint8Array {
  const encoded = parts.map((p) => (typeof p === 'string' ? utf8.encode(p) : p));
  const out = new Uint8Array(encoded.reduce((n, p) => n + 4 + p.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const p of encoded) {
    view.setUint32(at, p.length, false);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

/** What a client signs with its identity key in AdvertiseKeys. */
export function advertisementPayload(m: Pick<AdvertiseKeysMessage, 'roundId' | 'clientId' | 'agreementPublicKey' | 'encryptionPublicKey'>): Uint8Array {
  return encodeTuple(['fedmesh/secagg/v1/advertise', m.roundId, m.clientId, m.agreementPublicKey, m.encryptionPublicKey]);
}

/**
 * The key that encrypts shares from `senderId` to `recipientId`. Directional (sender and recipient are in the
 * context), so each key encrypts exactly one message.
 */
export function shareEncryptionKey(crypto: SecAggCrypto, mySecret: Uint8Array, peerPublic: Uint8Array, roundId: string, senderId: string, recipientId: string): Uint8Array {
  const shared = crypto.x25519Agree(mySecret, peerPublic);
  return crypto.hkdf(shared, EMPTY, JSON.stringify(['fedmesh/secagg/v1/share-key', roundId, senderId, recipientId]), 32);
}

/** Associated data of an encrypted share: binds it to the round, sender and recipient. */
export function shareAssociatedData(roundId: string, senderId: string, recipientId: string): Uint8Array {
  return encodeTuple(['fedmesh/secagg/v1/share', roundId, senderId, recipientId]);
}

/**
 * The seed of the pairwise mask between two clients. Symmetric: the ids are ordered by participant index, so u
 * (from s_u^SK, s_v^PK) and v (from s_v^SK, s_u^PK) — or the server after reconstructing s_u^SK — agree on it.
 */
export function pairwiseSeed(crypto: SecAggCrypto, mySecret: Uint8Array, peerPublic: Uint8Array, roundId: string, lowId: string, highId: string): Uint8Array {
  const shared = crypto.x25519Agree(mySecret, peerPublic);
  return crypto.hkdf(shared, EMPTY, JSON.stringify(['fedmesh/secagg/v1/pair-seed', roundId, lowId, highId]), SEED_BYTES);
}
