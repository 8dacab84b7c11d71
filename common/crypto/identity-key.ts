/**
 * Long-term Ed25519 identity keys of agents. The public key is pinned at registration and used by SecAgg clients to
 * verify each other's per-round keys, so the coordinator cannot substitute them. Keys are handled as 32 raw bytes
 * (what SecAgg takes) and stored as PEM (PKCS#8 / SPKI, what OpenSSL and key folders use).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

export interface IdentityKeyPair {
  /** 32 raw bytes (RFC 8032 public key). */
  readonly publicKey: Uint8Array;
  /** 32 raw bytes (RFC 8032 private key seed). Keep secret. */
  readonly privateKey: Uint8Array;
}

// RFC 8410 DER headers: a raw 32-byte key appended to one of these is a complete PKCS#8 structure.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

function checkRaw(name: string, key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) throw new TypeError(`${name} must be 32 raw bytes`);
}

/**
 * Importing a key into OpenSSL is far slower than using it (a PKCS#8 import costs ~0.5 ms, an X25519 agreement
 * ~0.04 ms), and SecAgg uses each key with every peer. Private keys are cached per `Uint8Array` object (a
 * WeakMap, so the entry dies with the array; the bytes are re-checked on every hit, so zeroing or changing the
 * array is never served a stale key). Public keys are cached by value in a bounded map.
 */
interface CachedPrivate {
  readonly bytes: Uint8Array;
  readonly key: KeyObject;
}
const privateCaches = { ed25519: new WeakMap<Uint8Array, CachedPrivate>(), x25519: new WeakMap<Uint8Array, CachedPrivate>() };
const publicCaches = { ed25519: new Map<string, KeyObject>(), x25519: new Map<string, KeyObject>() };
const PUBLIC_CACHE_LIMIT = 8192;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function privateKeyObject(type: 'ed25519' | 'x25519', raw: Uint8Array): KeyObject {
  checkRaw('privateKey', raw);
  const cache = privateCaches[type];
  const hit = cache.get(raw);
  if (hit !== undefined && sameBytes(hit.bytes, raw)) return hit.key;
  const prefix = type === 'ed25519' ? ED25519_PKCS8_PREFIX : X25519_PKCS8_PREFIX;
  const key = createPrivateKey({ key: Buffer.concat([prefix, raw]), format: 'der', type: 'pkcs8' });
  cache.set(raw, { bytes: Uint8Array.from(raw), key });
  return key;
}

/** Seeds the private-key cache with a key object whose raw form is `raw` (e.g. right after key generation). */
export function rememberPrivateKeyObject(type: 'ed25519' | 'x25519', raw: Uint8Array, key: KeyObject): void {
  privateCaches[type].set(raw, { bytes: Uint8Array.from(raw), key });
}

function publicKeyObject(type: 'ed25519' | 'x25519', raw: Uint8Array): KeyObject {
  checkRaw('publicKey', raw);
  const cache = publicCaches[type];
  const x = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url');
  let key = cache.get(x);
  if (key === undefined) {
    // JWK import of a public key is ~5x faster than SPKI DER in Node 20.
    key = createPublicKey({ key: { kty: 'OKP', crv: type === 'ed25519' ? 'Ed25519' : 'X25519', x }, format: 'jwk' });
    if (cache.size >= PUBLIC_CACHE_LIMIT) cache.clear();
    cache.set(x, key);
  }
  return key;
}

/** @internal */
export function ed25519PrivateKeyObject(raw: Uint8Array): KeyObject {
  return privateKeyObject('ed25519', raw);
}

/** @internal */
export function ed25519PublicKeyObject(raw: Uint8Array): KeyObject {
  return publicKeyObject('ed25519', raw);
}

/** @internal */
export function x25519PrivateKeyObject(raw: Uint8Array): KeyObject {
  return privateKeyObject('x25519', raw);
}

/** @internal */
export function x25519PublicKeyObject(raw: Uint8Array): KeyObject {
  return publicKeyObject('x25519', raw);
}

/** The 32 raw bytes of an OKP (Ed25519/X25519) key object: `x` of a public key, `d` of a private one. */
export function rawOkpKey(key: KeyObject, part: 'x' | 'd'): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  const b64 = jwk[part];
  if (typeof b64 !== 'string') throw new TypeError(`key has no '${part}' component`);
  return new Uint8Array(Buffer.from(b64, 'base64url'));
}

/** A fresh identity key pair from Node's CSPRNG. */
export function createIdentityKeyPair(): IdentityKeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { publicKey: rawOkpKey(privateKey, 'x'), privateKey: rawOkpKey(privateKey, 'd') };
}

/** The public key belonging to a raw private key. @throws TypeError if it is not 32 bytes */
export function identityPublicKeyOf(privateKey: Uint8Array): Uint8Array {
  return rawOkpKey(createPublicKey(ed25519PrivateKeyObject(privateKey)), 'x');
}

/** PKCS#8 PEM of a raw private key (unencrypted: protect the file, e.g. mode 0600). */
export function identityPrivateKeyToPem(privateKey: Uint8Array): string {
  return ed25519PrivateKeyObject(privateKey).export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** SPKI PEM of a raw public key. */
export function identityPublicKeyToPem(publicKey: Uint8Array): string {
  return ed25519PublicKeyObject(publicKey).export({ format: 'pem', type: 'spki' }).toString();
}

/** Reads a PKCS#8 PEM Ed25519 private key. @throws TypeError if the PEM is not an Ed25519 private key */
export function identityKeyPairFromPem(privateKeyPem: string): IdentityKeyPair {
  const key = createPrivateKey({ key: privateKeyPem, format: 'pem' });
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError(`privateKeyPem must hold an Ed25519 key, got ${key.asymmetricKeyType}`);
  return { publicKey: rawOkpKey(createPublicKey(key), 'x'), privateKey: rawOkpKey(key, 'd') };
}

/** Reads an SPKI PEM Ed25519 public key. @throws TypeError if the PEM is not an Ed25519 public key */
export function identityPublicKeyFromPem(publicKeyPem: string): Uint8Array {
  const key = createPublicKey({ key: publicKeyPem, format: 'pem' });
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError(`publicKeyPem must hold an Ed25519 key, got ${key.asymmetricKeyType}`);
  return rawOkpKey(key, 'x');
}
