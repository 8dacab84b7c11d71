import { beforeAll, describe, expect, it, vi } from 'vitest';
import { selectHeParameters } from '../../algorithms/he/index.js';
import type { HePlan } from '../../algorithms/he/index.js';
import { FedmeshError } from '../errors.js';
import { encryptVector } from './encrypt.js';
import { generateHeKeyPair } from './keys.js';
import type { HeKeyPair } from './keys.js';
import { guardCiphertextBytes, loadCiphertext, loadPublicKey } from './load-guard.js';
import { getSealContext } from './seal.js';
import type { SealContext } from './seal.js';

function invalid(pattern: RegExp) {
  return (e: unknown): boolean => e instanceof FedmeshError && e.code === 'INVALID_ARGUMENT' && pattern.test(e.message);
}

describe('ciphertext load guard', () => {
  let plan: HePlan;
  let keys: HeKeyPair;
  let sc: SealContext;
  let good: Uint8Array;

  beforeAll(async () => {
    plan = selectHeParameters({ vectorLength: 100, valueBounds: { min: -10n, max: 10n }, agents: 3, polyModulusDegree: 4096 });
    keys = await generateHeKeyPair(plan);
    sc = await getSealContext(plan);
    good = (await encryptVector(plan, keys.publicKey, new BigInt64Array(100).fill(3n)))[0]!;
  });

  /** Re-serialises the good ciphertext through SEAL with another compression mode. */
  function recompressed(mode: 'zlib' | 'zstd'): Uint8Array {
    const ct = loadCiphertext(sc, plan, good);
    try {
      return ct.saveArray(sc.seal.ComprModeType[mode]);
    } finally {
      ct.delete();
    }
  }

  it('loads a well-formed ciphertext of exactly the planned size', () => {
    expect(good.byteLength).toBe(plan.ciphertextByteSize);
    const ct = loadCiphertext(sc, plan, good);
    expect(ct.coeffModulusSize).toBe(1);
    ct.delete();
  });

  it.each([
    ['truncated', (): Uint8Array => good.subarray(0, good.byteLength - 1), /65648 bytes, expected exactly 65649 bytes/],
    ['padded', (): Uint8Array => Uint8Array.from([...good, 0]), /65650 bytes, expected exactly 65649 bytes/],
    ['empty', (): Uint8Array => new Uint8Array(0), /0 bytes, too short for a SEAL header/],
  ])('rejects a %s ciphertext by its size', (_n, make, message) => {
    expect(() => guardCiphertextBytes(sc, plan, make())).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) }));
  });

  it.each(['zlib', 'zstd'] as const)('rejects a %s-compressed ciphertext without decompressing it', (mode) => {
    const bytes = recompressed(mode);
    expect(bytes.byteLength).toBeLessThan(good.byteLength);
    expect(() => guardCiphertextBytes(sc, plan, bytes)).toThrow(expect.objectContaining({ message: expect.stringMatching(new RegExp(`${mode}-compressed; compressed input is refused`)) }));
    // Same length as a good one but flagged compressed: refused by the header alone.
    const sameLength = Uint8Array.from(good);
    sameLength[5] = mode === 'zlib' ? 1 : 2;
    expect(() => guardCiphertextBytes(sc, plan, sameLength)).toThrow(new RegExp(`^ciphertext is ${mode}-compressed`));
  });

  it('rejects garbage bytes, of the right length or not', () => {
    const garbage = new Uint8Array(plan.ciphertextByteSize);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 2654435761) >>> 24;
    expect(() => guardCiphertextBytes(sc, plan, garbage)).toThrow(/does not start with the SEAL magic/);
    expect(() => guardCiphertextBytes(sc, plan, garbage.subarray(0, 1234))).toThrow(/1234 bytes, expected exactly 65649/);
    expect(() => guardCiphertextBytes(sc, plan, 'not bytes')).toThrow(/must be a Uint8Array/);
  });

  it('rejects key material and ciphertexts at the wrong level or for other parameters', async () => {
    expect(() => guardCiphertextBytes(sc, plan, keys.secretKey.exportBytes())).toThrow(/98392 bytes, expected exactly 65649/);
    expect(() => guardCiphertextBytes(sc, plan, keys.publicKey)).toThrow(/196721 bytes/);
    // A fresh ciphertext that was not mod-switched down: two primes.
    const pk = loadPublicKey(sc, plan, keys.publicKey);
    const encryptor = sc.seal.Encryptor(sc.context, pk);
    const plain = sc.encoder.encode(new BigInt64Array(4))!;
    const full = encryptor.encrypt(plain)!;
    const fullBytes = full.saveArray(sc.seal.ComprModeType.none);
    [pk, encryptor, plain, full].forEach((o) => o.delete());
    expect(fullBytes.byteLength).toBe(131_185);
    expect(() => guardCiphertextBytes(sc, plan, fullBytes)).toThrow(/131185 bytes, expected exactly 65649/);
    // Same degree and level, another plain modulus: parms_id differs.
    const other = selectHeParameters({ vectorLength: 100, valueBounds: { min: -1_000_000n, max: 1_000_000n }, agents: 3, polyModulusDegree: 4096 });
    expect(other.plainModulus).not.toBe(plan.plainModulus);
    const otherKeys = await generateHeKeyPair(other);
    const [foreign] = await encryptVector(other, otherKeys.publicKey, new BigInt64Array(100));
    expect(() => guardCiphertextBytes(sc, plan, foreign)).toThrow(/parms_id mismatch/);
  });

  it('screens before calling into SEAL', () => {
    const spy = vi.spyOn(sc.seal, 'CipherText');
    try {
      expect(() => loadCiphertext(sc, plan, good.subarray(1))).toThrow(FedmeshError);
      expect(() => loadCiphertext(sc, plan, recompressed('zlib'))).toThrow(FedmeshError);
      const callsBefore = spy.mock.calls.length;
      loadCiphertext(sc, plan, good).delete();
      expect(spy.mock.calls.length).toBe(callsBefore + 1);
      expect(callsBefore).toBe(1); // only recompressed() above reached SEAL
    } finally {
      spy.mockRestore();
    }
  });

  it('lets SEAL refuse coefficients beyond the modulus that pass the header screen', () => {
    const forged = Uint8Array.from(good);
    forged.fill(0xff, 113);
    expect(() => loadCiphertext(sc, plan, forged)).toThrow(expect.toSatisfy(invalid(/^ciphertext: SEAL refused it/)));
  });

  it('screens public keys the same way', () => {
    expect(() => loadPublicKey(sc, plan, keys.publicKey.subarray(0, 1000))).toThrow(/public key is 1000 bytes, expected exactly 196721/);
    const [ct] = [good];
    expect(() => loadPublicKey(sc, plan, ct)).toThrow(/public key is 65649 bytes/);
    loadPublicKey(sc, plan, keys.publicKey).delete();
  });
});
