import { describe, expect, it } from 'vitest';
import {
  compileHePlan,
  hePlanToJson,
  parseHePlan,
  selectHeParameters,
  ciphertextCountFor,
  requiredPlainModulusMinimum,
  REQUIRED_NOISE_MARGIN_BITS,
} from './parameters.js';
import { isPrime } from './primes.js';

describe('selectHeParameters', () => {
  it('picks n=4096, the last level and the smallest batching prime holding the sum for a typical job', () => {
    const plan = selectHeParameters({ vectorLength: 100_000, valueBounds: { min: -1000n, max: 1000n }, agents: 10 });
    expect(plan.polyModulusDegree).toBe(4096);
    expect(plan.coeffModulusBits).toEqual([36, 36, 37]);
    expect(plan.uploadCoeffModulusCount).toBe(1);
    expect(plan.ciphertextCount).toBe(25);
    expect(plan.ciphertextByteSize).toBe(65_649);
    expect(plan.publicKeyByteSize).toBe(196_721);
    expect(plan.secretKeyByteSize).toBe(98_392);
    const t = plan.plainModulus;
    expect(isPrime(t)).toBe(true);
    expect(t % 8192n).toBe(1n);
    expect((t - 1n) / 2n >= 10n * 1000n).toBe(true); // the centred range holds ±10 000
    expect(plan.noiseMarginBits).toBeGreaterThanOrEqual(REQUIRED_NOISE_MARGIN_BITS);
    expect(Object.isFrozen(plan)).toBe(true);
  });

  it('sizes t exactly at the boundary: the largest possible |sum| fits, one more would not', () => {
    const bounds = { min: -3_000_000n, max: 7n };
    const plan = selectHeParameters({ vectorLength: 10, valueBounds: bounds, agents: 7 });
    const half = (plan.plainModulus - 1n) / 2n;
    expect(half >= 21_000_000n).toBe(true);
    expect(requiredPlainModulusMinimum(bounds, 7)).toBe(42_000_001n);
    // No smaller batching prime would hold it.
    const step = BigInt(2 * plan.polyModulusDegree);
    for (let c = plan.plainModulus - step; c >= 42_000_001n; c -= step) expect(isPrime(c)).toBe(false);
  });

  it('prefers one 8192 ciphertext over two 4096 ones when that uploads fewer bytes', () => {
    const plan = selectHeParameters({ vectorLength: 5000, valueBounds: { min: 0n, max: 100n }, agents: 3 });
    expect(plan.polyModulusDegree).toBe(8192);
    expect(plan.ciphertextCount).toBe(1);
    expect(plan.ciphertextByteSize).toBe(131_185);
    expect(plan.coeffModulusBits).toEqual([43, 43, 44, 44, 44]);
  });

  it('keeps more primes in the upload when the last level cannot hold the noise', () => {
    const plan = selectHeParameters({ vectorLength: 100_000, valueBounds: { min: -(2n ** 26n), max: 2n ** 26n }, agents: 10 });
    expect(plan.polyModulusDegree).toBe(4096);
    expect(plan.uploadCoeffModulusCount).toBe(2);
    expect(plan.ciphertextByteSize).toBe(131_185);
    expect(plan.noiseMarginBits).toBeGreaterThanOrEqual(REQUIRED_NOISE_MARGIN_BITS);
  });

  it('honours a forced degree', () => {
    const plan = selectHeParameters({ vectorLength: 100, valueBounds: { min: 0n, max: 1n }, agents: 3, polyModulusDegree: 8192 });
    expect(plan.polyModulusDegree).toBe(8192);
    expect(plan.plainModulus).toBe(65537n);
  });

  it('rejects bounds no supported parameters can hold, naming the field', () => {
    expect(() => selectHeParameters({ vectorLength: 10, valueBounds: { min: -(2n ** 58n), max: 2n ** 58n }, agents: 10 })).toThrow(
      /^valueBounds: .*needs a plain modulus of at least 63 bits/,
    );
    expect(() => selectHeParameters({ vectorLength: 10, valueBounds: { min: 0n, max: 2n ** 50n }, agents: 1000 })).toThrow(/valueBounds/);
  });

  it('validates the request', () => {
    const valueBounds = { min: 0n, max: 1n };
    expect(() => selectHeParameters({ vectorLength: 0, valueBounds, agents: 3 })).toThrow(/vectorLength/);
    expect(() => selectHeParameters({ vectorLength: 1.5, valueBounds, agents: 3 })).toThrow(/vectorLength/);
    expect(() => selectHeParameters({ vectorLength: 10, valueBounds, agents: 0 })).toThrow(/agents/);
    expect(() => selectHeParameters({ vectorLength: 10, valueBounds: { min: 2n, max: 1n }, agents: 3 })).toThrow(/valueBounds.min/);
    expect(() => selectHeParameters({ vectorLength: 10, valueBounds: { min: 0, max: 1 } as never, agents: 3 })).toThrow(TypeError);
    expect(() => selectHeParameters({ vectorLength: 10, valueBounds, agents: 3, polyModulusDegree: 2048 as never })).toThrow(/polyModulusDegree/);
  });
});

describe('compileHePlan', () => {
  const base = { polyModulusDegree: 4096 as const, plainModulus: 40961n, uploadCoeffModulusCount: 1, vectorLength: 10, maxAgents: 3, valueBounds: { min: -10n, max: 10n } };

  it('accepts a consistent plan', () => {
    expect(compileHePlan(base).plainModulus).toBe(40961n);
  });

  it('rejects a plain modulus that is not a batching prime, too small, or too noisy', () => {
    expect(() => compileHePlan({ ...base, plainModulus: 40963n })).toThrow(/not a batching prime/);
    expect(() => compileHePlan({ ...base, plainModulus: 12289n })).toThrow(/not a batching prime/); // prime, ≡ 1 mod 4096 only
    expect(() => compileHePlan({ ...base, valueBounds: { min: 0n, max: 10_000n } })).toThrow(/too small.*needs t >= 60001/);
    // A 30-bit t at the 36-bit last level leaves no room for noise.
    expect(() => compileHePlan({ ...base, plainModulus: 1073692673n })).toThrow(/noise margin/);
    expect(() => compileHePlan({ ...base, uploadCoeffModulusCount: 3 })).toThrow(/uploadCoeffModulusCount/);
  });

  it('round-trips through JSON and re-validates what it parses', () => {
    const plan = selectHeParameters({ vectorLength: 100_000, valueBounds: { min: -1000n, max: 1000n }, agents: 10 });
    const json = JSON.parse(JSON.stringify(hePlanToJson(plan))) as unknown;
    expect(parseHePlan(json)).toEqual(plan);
    expect(() => parseHePlan({ ...(json as object), maxAgents: 10_000_000 })).toThrow(/agents/);
    expect(() => parseHePlan({ ...(json as object), plainModulus: '40963' })).toThrow(/batching prime/);
    expect(() => parseHePlan({ ...(json as object), plainModulus: 40961 })).toThrow(/plainModulus must be a decimal/);
    expect(() => parseHePlan({ ...(json as object), scheme: 'ckks' })).toThrow(/scheme/);
    expect(() => parseHePlan(null)).toThrow(TypeError);
  });
});

describe('ciphertextCountFor', () => {
  it('is ceil(L / n)', () => {
    expect(ciphertextCountFor(1, 4096)).toBe(1);
    expect(ciphertextCountFor(4096, 4096)).toBe(1);
    expect(ciphertextCountFor(4097, 4096)).toBe(2);
    expect(ciphertextCountFor(100_000, 8192)).toBe(13);
    expect(() => ciphertextCountFor(-1, 4096)).toThrow(RangeError);
  });
});
