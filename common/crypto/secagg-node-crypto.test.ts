import { hkdfSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecAggError } from '../../algorithms/secagg/index.js';
import { isFedmeshError } from '../errors.js';
import { secAggErrorToFedmesh } from './secagg-errors.js';
import {
  aesCtrPrg,
  createIdentityKeyPair,
  createNodeSecAggCrypto,
  identityKeyPairFromPem,
  identityPrivateKeyToPem,
  identityPublicKeyFromPem,
  identityPublicKeyOf,
  identityPublicKeyToPem,
} from './secagg-node-crypto.js';

const crypto = createNodeSecAggCrypto();
const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));

describe('Node SecAggCrypto', () => {
  it('X25519 agreement is symmetric and matches RFC 7748 §6.1', () => {
    const a = crypto.x25519GenerateKeyPair();
    const b = crypto.x25519GenerateKeyPair();
    expect([...crypto.x25519Agree(a.privateKey, b.publicKey)]).toEqual([...crypto.x25519Agree(b.privateKey, a.publicKey)]);
    const alicePriv = bytes('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const bobPub = bytes('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    expect(Buffer.from(crypto.x25519Agree(alicePriv, bobPub)).toString('hex')).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
  });

  it('X25519 refuses a low-order peer key instead of returning the all-zero secret', () => {
    const a = crypto.x25519GenerateKeyPair();
    expect(() => crypto.x25519Agree(a.privateKey, new Uint8Array(32))).toThrow();
  });

  it('Ed25519 signs and verifies; a changed message, key or signature does not verify, and nothing throws', () => {
    const id = createIdentityKeyPair();
    const msg = new TextEncoder().encode('hello');
    const sig = crypto.ed25519Sign(id.privateKey, msg);
    expect(sig.length).toBe(64);
    expect(crypto.ed25519Verify(id.publicKey, msg, sig)).toBe(true);
    expect(crypto.ed25519Verify(id.publicKey, new TextEncoder().encode('hellO'), sig)).toBe(false);
    expect(crypto.ed25519Verify(createIdentityKeyPair().publicKey, msg, sig)).toBe(false);
    const bad = Uint8Array.from(sig);
    bad[0]! ^= 1;
    expect(crypto.ed25519Verify(id.publicKey, msg, bad)).toBe(false);
    expect(crypto.ed25519Verify(id.publicKey, msg, new Uint8Array(0))).toBe(false);
    expect(crypto.ed25519Verify(new Uint8Array(5), msg, sig)).toBe(false);
  });

  it('uses a fresh key object when a cached private key array is changed in place', () => {
    const id = createIdentityKeyPair();
    const key = Uint8Array.from(id.privateKey);
    const msg = new Uint8Array(3);
    expect(crypto.ed25519Verify(id.publicKey, msg, crypto.ed25519Sign(key, msg))).toBe(true);
    const other = createIdentityKeyPair();
    key.set(other.privateKey);
    expect(crypto.ed25519Verify(other.publicKey, msg, crypto.ed25519Sign(key, msg))).toBe(true);
  });

  it('HKDF-SHA256 agrees with Node\'s hkdfSync', () => {
    const ikm = new Uint8Array(32).fill(1);
    const salt = new Uint8Array(4).fill(2);
    expect([...crypto.hkdf(ikm, salt, 'info', 42)]).toEqual([...new Uint8Array(hkdfSync('sha256', ikm, salt, 'info', 42))]);
  });

  it('AES-256-GCM round-trips and rejects a wrong key, wrong associated data or a flipped bit', () => {
    const key = new Uint8Array(32).fill(9);
    const ad = new Uint8Array([1, 2, 3]);
    const pt = new Uint8Array(132).fill(5);
    const ct = crypto.aeadEncrypt(key, pt, ad);
    expect(ct.length).toBe(12 + 132 + 16);
    expect([...crypto.aeadDecrypt(key, ct, ad)]).toEqual([...pt]);
    expect([...crypto.aeadEncrypt(key, pt, ad)]).not.toEqual([...ct]); // fresh nonce
    expect(() => crypto.aeadDecrypt(new Uint8Array(32), ct, ad)).toThrow();
    expect(() => crypto.aeadDecrypt(key, ct, new Uint8Array([1, 2, 4]))).toThrow();
    const flipped = Uint8Array.from(ct);
    flipped[50]! ^= 0x80;
    expect(() => crypto.aeadDecrypt(key, flipped, ad)).toThrow();
    expect(() => crypto.aeadDecrypt(key, ct.subarray(0, 10), ad)).toThrow(/too short/);
  });

  it('the AES-CTR PRG is deterministic, prefix-consistent, and separated by key and info', () => {
    const key = new Uint8Array(32).fill(7);
    const long = aesCtrPrg(key, 'a', 1000);
    expect([...aesCtrPrg(key, 'a', 1000)]).toEqual([...long]);
    expect([...aesCtrPrg(key, 'a', 100)]).toEqual([...long.subarray(0, 100)]);
    expect([...aesCtrPrg(key, 'b', 100)]).not.toEqual([...long.subarray(0, 100)]);
    expect([...aesCtrPrg(new Uint8Array(32).fill(8), 'a', 100)]).not.toEqual([...long.subarray(0, 100)]);
    // Roughly uniform bytes: mean of 100k bytes within 1 of 127.5 (σ of the mean ≈ 0.23).
    const big = aesCtrPrg(key, 'uniform', 100_000);
    expect(Math.abs(big.reduce((a, b) => a + b, 0) / big.length - 127.5)).toBeLessThan(1);
    expect(() => aesCtrPrg(new Uint8Array(8), 'a', 1)).toThrow(/key/);
  });
});

describe('identity keys', () => {
  it('round-trip through PEM and raw bytes', () => {
    const id = createIdentityKeyPair();
    expect(id.publicKey.length).toBe(32);
    expect(id.privateKey.length).toBe(32);
    const privPem = identityPrivateKeyToPem(id.privateKey);
    const pubPem = identityPublicKeyToPem(id.publicKey);
    expect(privPem).toMatch(/BEGIN PRIVATE KEY/);
    expect(pubPem).toMatch(/BEGIN PUBLIC KEY/);
    const back = identityKeyPairFromPem(privPem);
    expect([...back.privateKey]).toEqual([...id.privateKey]);
    expect([...back.publicKey]).toEqual([...id.publicKey]);
    expect([...identityPublicKeyFromPem(pubPem)]).toEqual([...id.publicKey]);
    expect([...identityPublicKeyOf(id.privateKey)]).toEqual([...id.publicKey]);
  });

  it('rejects keys of the wrong kind or size', () => {
    const x = crypto.x25519GenerateKeyPair();
    expect(() => identityPrivateKeyToPem(new Uint8Array(31))).toThrow(/32 raw bytes/);
    // An X25519 key in PEM is not an identity key.
    const xPem = `-----BEGIN PRIVATE KEY-----\n${Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), x.privateKey]).toString('base64')}\n-----END PRIVATE KEY-----\n`;
    expect(() => identityKeyPairFromPem(xPem)).toThrow(/Ed25519/);
  });
});

describe('secAggErrorToFedmesh', () => {
  it('maps codes onto the one error model and passes other errors through', () => {
    const e = secAggErrorToFedmesh(new SecAggError('SECAGG_QUORUM_NOT_MET', 'only 2', { count: 2 }));
    expect(isFedmeshError(e) && e.code === 'QUORUM_NOT_MET' && e.retryable && e.details['secaggCode'] === 'SECAGG_QUORUM_NOT_MET').toBe(true);
    const s = secAggErrorToFedmesh(new SecAggError('SECAGG_BAD_SIGNATURE', 'x'));
    expect(isFedmeshError(s) && s.code).toBe('UNAUTHENTICATED');
    const other = new Error('x');
    expect(secAggErrorToFedmesh(other)).toBe(other);
  });
});
