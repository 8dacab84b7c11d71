/**
 * The cryptographic primitives SecAgg needs, injected so that `algorithms/` stays pure. The Node implementation is
 * `common/crypto/secagg-node-crypto.ts`; all keys are raw bytes so messages stay plain serialisable objects.
 */

/**
 * A pseudo-random generator: expands a secret `key` (≥ 16 bytes) and a public context string `info` into
 * `nBytes` pseudo-random bytes. Must be deterministic: the same (key, info, nBytes) always gives the same bytes,
 * and a shorter output is a prefix of a longer one.
 */
export type Prg = (key: Uint8Array, info: string, nBytes: number) => Uint8Array;

export interface X25519KeyPair {
  /** 32 raw bytes (RFC 7748 u-coordinate). */
  readonly publicKey: Uint8Array;
  /** 32 raw bytes (RFC 7748 scalar). */
  readonly privateKey: Uint8Array;
}

export interface SecAggCrypto {
  /** A fresh X25519 key pair from a CSPRNG. */
  x25519GenerateKeyPair(): X25519KeyPair;
  /**
   * The X25519 shared secret (32 bytes).
   * @throws if a key is malformed or the result is all zero (a low-order peer key)
   */
  x25519Agree(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array;
  /** Ed25519 signature (64 bytes) with a 32-byte raw private key (seed). */
  ed25519Sign(privateKey: Uint8Array, message: Uint8Array): Uint8Array;
  /** True iff `signature` is a valid Ed25519 signature of `message` under the 32-byte raw `publicKey`. Never throws. */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
  /** HKDF (RFC 5869) with SHA-256. */
  hkdf(ikm: Uint8Array, salt: Uint8Array, info: string, nBytes: number): Uint8Array;
  /** Authenticated encryption with a 32-byte key; the output carries its own nonce and tag. */
  aeadEncrypt(key: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array;
  /** Inverse of `aeadEncrypt`. @throws if authentication fails (wrong key, associated data or tampered bytes) */
  aeadDecrypt(key: Uint8Array, ciphertext: Uint8Array, associatedData: Uint8Array): Uint8Array;
  /** The PRG that expands mask seeds. */
  prg: Prg;
}
