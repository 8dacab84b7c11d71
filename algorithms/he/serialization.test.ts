import { describe, expect, it } from 'vitest';
import { ciphertextByteSize, publicKeyByteSize, readSealHeader, screenCiphertextBytes, secretKeyByteSize } from './serialization.js';

/** A synthetic, well-formed ciphertext serialisation (random-free: coefficients are zero). */
function fakeCiphertext(n: number, k: number, edit?: (v: DataView) => void): Uint8Array {
  const size = ciphertextByteSize(n, k);
  const bytes = new Uint8Array(size);
  const v = new DataView(bytes.buffer);
  const header = (at: number, total: number): void => {
    v.setUint16(at, 0xa15e, true);
    v.setUint8(at + 2, 16);
    v.setUint8(at + 3, 4);
    v.setUint8(at + 4, 1);
    v.setBigUint64(at + 8, BigInt(total), true);
  };
  header(0, size);
  for (let i = 0; i < 4; i++) v.setBigUint64(16 + 8 * i, BigInt(i + 1), true);
  v.setBigUint64(49, 2n, true);
  v.setBigUint64(57, BigInt(n), true);
  v.setBigUint64(65, BigInt(k), true);
  v.setFloat64(73, 1, true);
  v.setBigUint64(81, 1n, true);
  header(89, size - 89);
  v.setBigUint64(105, BigInt(2 * n * k), true);
  edit?.(v);
  return bytes;
}

const expectation = { polyModulusDegree: 4096, coeffModulusCount: 1, parmsId: [1n, 2n, 3n, 4n] };

describe('SEAL sizes', () => {
  it('follow the serialisation layout (checked against real SEAL output in common/he)', () => {
    expect(ciphertextByteSize(4096, 1)).toBe(65_649);
    expect(ciphertextByteSize(4096, 2)).toBe(131_185);
    expect(ciphertextByteSize(8192, 1)).toBe(131_185);
    expect(ciphertextByteSize(8192, 4)).toBe(524_401);
    expect(ciphertextByteSize(4096, 1, 'none', 3)).toBe(113 + 3 * 8 * 4096);
    expect(publicKeyByteSize(4096, 3)).toBe(196_721);
    expect(publicKeyByteSize(8192, 5)).toBe(655_473);
    expect(secretKeyByteSize(4096, 3)).toBe(98_392);
    expect(secretKeyByteSize(8192, 5)).toBe(327_768);
  });

  it('has no exact size for compressed modes', () => {
    expect(() => ciphertextByteSize(4096, 1, 'zlib')).toThrow(/depends on the data/);
    expect(() => ciphertextByteSize(4096, 1, 'zstd')).toThrow(/depends on the data/);
    expect(() => ciphertextByteSize(0, 1)).toThrow(/polyModulusDegree/);
  });
});

describe('screenCiphertextBytes', () => {
  it('accepts a well-formed ciphertext', () => {
    expect(screenCiphertextBytes(fakeCiphertext(4096, 1), expectation)).toEqual({ ok: true });
    expect(readSealHeader(fakeCiphertext(4096, 1)).compression).toBe('none');
  });

  it.each([
    ['truncated', fakeCiphertext(4096, 1).subarray(0, 65_000), /65000 bytes, expected exactly 65649/],
    ['padded', new Uint8Array([...fakeCiphertext(4096, 1), 0]), /65650 bytes, expected exactly 65649/],
    ['too short for a header', new Uint8Array(3), /too short for a SEAL header/],
    ['zlib header', fakeCiphertext(4096, 1, (v) => v.setUint8(5, 1)), /zlib-compressed; compressed input is refused/],
    ['zstd header', fakeCiphertext(4096, 1, (v) => v.setUint8(5, 2)), /zstd-compressed/],
    ['unknown compression', fakeCiphertext(4096, 1, (v) => v.setUint8(5, 9)), /unknown \(code 9\)-compressed/],
    ['bad magic', fakeCiphertext(4096, 1, (v) => v.setUint16(0, 0x1234, true)), /SEAL magic/],
    ['other SEAL version', fakeCiphertext(4096, 1, (v) => v.setUint8(4, 0)), /SEAL 4\.0, expected 4\.1/],
    ['size field lies', fakeCiphertext(4096, 1, (v) => v.setBigUint64(8, 10n, true)), /claims 10 bytes/],
    ['three polynomials', fakeCiphertext(4096, 1, (v) => v.setBigUint64(49, 3n, true)), /3 polynomials/],
    ['wrong degree', fakeCiphertext(4096, 1, (v) => v.setBigUint64(57, 2048n, true)), /degree 2048/],
    ['wrong level', fakeCiphertext(4096, 1, (v) => v.setBigUint64(65, 2n, true)), /2 primes, expected 1/],
    ['NTT form', fakeCiphertext(4096, 1, (v) => v.setUint8(48, 1)), /NTT form/],
    ['other parms_id', fakeCiphertext(4096, 1, (v) => v.setBigUint64(40, 9n, true)), /parms_id mismatch/],
    ['inner array compressed', fakeCiphertext(4096, 1, (v) => v.setUint8(89 + 5, 1)), /coefficient array is zlib-compressed/],
    ['inner count lies', fakeCiphertext(4096, 1, (v) => v.setBigUint64(105, 5n, true)), /coefficient count/],
  ])('rejects %s', (_name, bytes, message) => {
    const r = screenCiphertextBytes(bytes, expectation);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(message);
  });

  it('names both the length and the compression of a compressed upload', () => {
    const compressed = fakeCiphertext(4096, 1, (v) => {
      v.setUint8(5, 1);
      v.setBigUint64(8, 40_000n, true);
    }).subarray(0, 40_000);
    const r = screenCiphertextBytes(compressed, { ...expectation, what: 'contribution 2 ciphertext 0' });
    expect(r).toEqual({ ok: false, reason: expect.stringMatching(/^contribution 2 ciphertext 0 is 40000 bytes, expected exactly 65649.*zlib-compressed/) });
  });
});
