import type { Rng } from '../../rng.js';
import { asBufferedRng, type BufferedRng } from '../random-source.js';
import { isPositive, isqrt, toRational, type Rational } from '../rational.js';
import { bernoulliExpNegBig, bernoulliExpNegFast, MAX_FAST_DENOMINATOR } from './bernoulli.js';
import { laplaceFast } from './discrete-laplace.js';

const SAFE = Number.MAX_SAFE_INTEGER;
/** |m| ≤ 2^26 keeps m² ≤ 2^52. */
const SQRT_FAST = 2 ** 26;

/**
 * Exact discrete Gaussian sampler, P(x) ∝ exp(−x²/(2σ²)) on the integers, for a rational σ² = a/b
 * (Canonne, Kamath, Steinke 2020, Algorithm 3):
 *   t ← ⌊σ⌋ + 1; Y ← discrete Laplace with scale t; accept Y with probability exp(−(|Y| − σ²/t)² / (2σ²)).
 * The acceptance exponent is the rational (|Y|·b·t − a)² / (2·a·b·t²), evaluated exactly.
 */
export interface DiscreteGaussianSampler {
  /** σ² as an exact rational. */
  readonly sigma2: Rational;
  /** One sample. */
  sample(rng: Rng): bigint;
}

interface Params {
  a: bigint;
  b: bigint;
  t: bigint;
  bt: bigint;
  den: bigint; // 2·a·b·t²
  fastLaplace: boolean;
  tN: number;
  btN: number; // 0 when not safe
  aN: number;
  denN: number; // 0 when above 2^52
}

function acceptBig(src: BufferedRng, p: Params, absY: bigint): boolean {
  const m = absY * p.bt - p.a;
  return bernoulliExpNegBig(src, m * m, p.den);
}

function sampleWith(src: BufferedRng, p: Params): bigint {
  for (;;) {
    if (p.fastLaplace) {
      const y = laplaceFast(src, p.tN, 1);
      if (typeof y === 'number') {
        const absY = y < 0 ? -y : y;
        if (p.btN !== 0 && p.denN !== 0) {
          const prod = absY * p.btN;
          if (prod <= SAFE) {
            const m = prod - p.aN;
            if (m <= SQRT_FAST && m >= -SQRT_FAST) {
              if (bernoulliExpNegFast(src, m * m, p.denN)) return BigInt(y);
              continue;
            }
          }
        }
        if (acceptBig(src, p, BigInt(absY))) return BigInt(y);
        continue;
      }
      if (acceptBig(src, p, y < 0n ? -y : y)) return y;
      continue;
    }
    const y = sampleLaplaceIntegerScaleBig(src, p.t);
    if (acceptBig(src, p, y < 0n ? -y : y)) return y;
  }
}

/** Discrete Laplace with integer scale t on BigInt (t > 2^52). */
function sampleLaplaceIntegerScaleBig(src: BufferedRng, t: bigint): bigint {
  for (;;) {
    const U = src.uniformBigInt(t);
    if (!bernoulliExpNegBig(src, U, t)) continue;
    let V = 0n;
    while (bernoulliExpNegBig(src, 1n, 1n)) V++;
    const Y = U + t * V;
    const B = src.nextBit();
    if (B === 1 && Y === 0n) continue;
    return B === 1 ? -Y : Y;
  }
}

/**
 * A reusable exact discrete Gaussian sampler with variance parameter σ² (the actual variance is slightly below
 * σ² for small σ and equal to it to double precision for σ ≥ 3).
 * @throws RangeError if sigma2 is not > 0
 */
export function createDiscreteGaussianSampler(sigma2: Rational | number): DiscreteGaussianSampler {
  const s2 = toRational(sigma2, 'sigma2');
  if (!isPositive(s2)) throw new RangeError('sigma2 must be > 0');
  const a = s2.num;
  const b = s2.den;
  const t = isqrt(a / b) + 1n; // ⌊σ⌋ + 1, since ⌊√x⌋ = ⌊√⌊x⌋⌋
  const bt = b * t;
  const den = 2n * a * b * t * t;
  const big52 = BigInt(MAX_FAST_DENOMINATOR);
  const p: Params = {
    a,
    b,
    t,
    bt,
    den,
    fastLaplace: t <= big52,
    tN: Number(t),
    btN: bt <= BigInt(SAFE) && a <= BigInt(SAFE) ? Number(bt) : 0,
    aN: Number(a),
    denN: den <= big52 ? Number(den) : 0,
  };
  return {
    sigma2: s2,
    sample(rng: Rng): bigint {
      return sampleWith(asBufferedRng(rng), p);
    },
  };
}

/** One exact discrete Gaussian sample with variance parameter σ². @throws RangeError if sigma2 is not > 0 */
export function sampleDiscreteGaussian(rng: Rng, sigma2: Rational | number): bigint {
  return createDiscreteGaussianSampler(sigma2).sample(rng);
}
