/**
 * The Node implementation of `SecAggCrypto` (algorithms/secagg): X25519 and Ed25519 from OpenSSL through
 * `node:crypto`, HKDF-SHA256, AES-256-GCM for shares (random 96-bit nonce; each key encrypts one message anyway)
 * and AES-256-CTR as the mask PRG.
 */
import { createCipheriv, createDecipheriv, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, sign, verify } from 'node:crypto';
import type { Prg, SecAggCrypto, X25519KeyPair } from '../../algorithms/secagg/index.js';
import {
  ed25519PrivateKeyObject,
  ed25519PublicKeyObject,
  rawOkpKey,
  rememberPrivateKeyObject,
  x25519PrivateKeyObject,
  x25519PublicKeyObject,
} from './identity-key.js';

export {
  createIdentityKeyPair,
  identityKeyPairFromPem,
  identityPrivateKeyToPem,
  identityPublicKeyFromPem,
  identityPublicKeyOf,
  identityPublicKeyToPem,
  type IdentityKeyPair,
} from './identity-key.js';

const GCM_NONCE_BYTES = 12;
const GCM_TAG_BYTES = 16;
const PRG_INFO_PREFIX = 'fedmesh/prg/aes-256-ctr/v1|';
const EMPTY = new Uint8Array(0);

function hkdf(ikm: Uint8Array, salt: Uint8Array, info: string, nBytes: number): Uint8Array {
  if (!Number.isSafeInteger(nBytes) || nBytes < 1 || nBytes > 255 * 32) throw new RangeError(`hkdf: nBytes must be in [1, 8160], got ${nBytes}`);
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, nBytes));
}

/**
 * AES-256-CTR keystream under a key and IV derived from (key, info) by HKDF: deterministic, and a shorter output
 * is a prefix of a longer one. One (key, info) pair gives at most 2^36 bytes before the 128-bit counter wraps
 * its 64-bit random IV tail — far beyond any vector we mask.
 */
export const aesCtrPrg: Prg = (key, info, nBytes) => {
  if (!Number.isSafeInteger(nBytes) || nBytes < 0) throw new RangeError(`prg: nBytes must be a non-negative integer, got ${nBytes}`);
  if (key.length < 16) throw new RangeError(`prg: key must be at least 16 bytes, got ${key.length}`);
  const material = hkdf(key, EMPTY, PRG_INFO_PREFIX + info, 48);
  const cipher = createCipheriv('aes-256-ctr', material.subarray(0, 32), material.subarray(32, 48));
  const out = cipher.update(Buffer.alloc(nBytes));
  cipher.final();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
};

/** Builds the Node `SecAggCrypto`. */
export function createNodeSecAggCrypto(): SecAggCrypto {
  return {
    x25519GenerateKeyPair(): X25519KeyPair {
      const { publicKey, privateKey } = generateKeyPairSync('x25519');
      const raw = { publicKey: rawOkpKey(publicKey, 'x'), privateKey: rawOkpKey(privateKey, 'd') };
      rememberPrivateKeyObject('x25519', raw.privateKey, privateKey);
      return raw;
    },
    x25519Agree(privateKey, peerPublicKey) {
      const shared = diffieHellman({ privateKey: x25519PrivateKeyObject(privateKey), publicKey: x25519PublicKeyObject(peerPublicKey) });
      // A low-order peer key gives the all-zero secret (RFC 7748 §6.1); refuse it rather than mask with a known seed.
      if (shared.every((b) => b === 0)) throw new RangeError('x25519Agree: peer public key is of low order');
      return new Uint8Array(shared);
    },
    ed25519Sign(privateKey, message) {
      return new Uint8Array(sign(null, message, ed25519PrivateKeyObject(privateKey)));
    },
    ed25519Verify(publicKey, message, signature) {
      if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32 || !(signature instanceof Uint8Array) || signature.length !== 64) return false;
      try {
        return verify(null, message, ed25519PublicKeyObject(publicKey), signature);
      } catch {
        return false;
      }
    },
    hkdf,
    aeadEncrypt(key, plaintext, associatedData) {
      if (key.length !== 32) throw new RangeError(`aeadEncrypt: key must be 32 bytes, got ${key.length}`);
      const nonce = randomBytes(GCM_NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
      cipher.setAAD(associatedData);
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return new Uint8Array(Buffer.concat([nonce, body, cipher.getAuthTag()]));
    },
    aeadDecrypt(key, ciphertext, associatedData) {
      if (key.length !== 32) throw new RangeError(`aeadDecrypt: key must be 32 bytes, got ${key.length}`);
      if (ciphertext.length < GCM_NONCE_BYTES + GCM_TAG_BYTES) throw new RangeError('aeadDecrypt: ciphertext is too short');
      const nonce = ciphertext.subarray(0, GCM_NONCE_BYTES);
      const tag = ciphertext.subarray(ciphertext.length - GCM_TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
      decipher.setAAD(associatedData);
      decipher.setAuthTag(tag);
      // final() throws if the tag does not authenticate.
      const body = Buffer.concat([decipher.update(ciphertext.subarray(GCM_NONCE_BYTES, ciphertext.length - GCM_TAG_BYTES)), decipher.final()]);
      return new Uint8Array(body);
    },
    prg: aesCtrPrg,
  };
}
