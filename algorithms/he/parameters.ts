/**
 * BFV parameter selection per job. Given the vector length, the per-agent bounds of the (integer,
 * fixed-point encoded) values and the number of agents, choose the polynomial modulus degree n, a batching
 * plain modulus t and the level the agents upload at, so that
 *   1. the sum over all agents of values within bounds cannot wrap modulo t (values are centred: a signed
 *      integer v is the residue v mod t, and residues above (t − 1)/2 decode as negative), and
 *   2. the sum of `agents` fresh ciphertexts, mod-switched down to the upload level, still decrypts.
 */
import { smallestBatchingPrime, isPrime } from './primes.js';
import { ciphertextByteSize, publicKeyByteSize, secretKeyByteSize } from './serialization.js';

export type PolyModulusDegree = 4096 | 8192;
export const POLY_MODULUS_DEGREES: readonly PolyModulusDegree[] = Object.freeze([4096, 8192]);

export interface CoeffModulusChain {
  /** Bit sizes of the primes, in SEAL's order; the last one is the special (key-switching) prime. */
  readonly bitSizes: readonly number[];
  readonly primes: readonly bigint[];
}

/**
 * SEAL's `CoeffModulus::BFVDefault(n, sec_level_type::tc128)`, recorded here so that the pure layer can
 * size ciphertexts and budget noise; `common/he/seal.ts` checks that SEAL hands back exactly these primes.
 * Data levels drop primes from the end: the last level keeps only the first prime.
 */
export const SEAL_BFV_DEFAULT_COEFF_MODULUS: Readonly<Record<PolyModulusDegree, CoeffModulusChain>> = Object.freeze({
  4096: Object.freeze({ bitSizes: Object.freeze([36, 36, 37]), primes: Object.freeze([68719403009n, 68719230977n, 137438822401n]) }),
  8192: Object.freeze({
    bitSizes: Object.freeze([43, 43, 44, 44, 44]),
    primes: Object.freeze([8796092858369n, 8796092792833n, 17592186028033n, 17592185438209n, 17592184717313n]),
  }),
});

/** SEAL refuses plain moduli above 60 bits. */
export const MAX_PLAIN_MODULUS_BITS = 60;
/** Headroom, in bits, kept between the worst-case noise of the summed ciphertext and decryption failure. */
export const REQUIRED_NOISE_MARGIN_BITS = 2;
export const MAX_AGENTS = 100_000;
/** 2^26 slots: far beyond any aggregate fedmesh ships, and a guard against absurd allocations. */
export const MAX_VECTOR_LENGTH = 1 << 26;

/** Inclusive bounds on every value one agent may contribute, after fixed-point encoding. */
export interface HeValueBounds {
  readonly min: bigint;
  readonly max: bigint;
}

/**
 * Everything the agents, the coordinator and the researcher must agree on for one HE job. Plain data (it
 * crosses process and worker boundaries and travels with the job); it carries no key material.
 */
export interface HePlan {
  readonly scheme: 'bfv';
  readonly securityLevel: 'tc128';
  readonly polyModulusDegree: PolyModulusDegree;
  readonly plainModulus: bigint;
  /** SEAL's default BFV coefficient modulus for this degree (bit sizes), special prime last. */
  readonly coeffModulusBits: readonly number[];
  /** Primes kept in uploaded ciphertexts; 1 is SEAL's last level, the smallest upload. */
  readonly uploadCoeffModulusCount: number;
  readonly vectorLength: number;
  /** Most contributions the coordinator may add; the plain modulus and noise budget are sized for it. */
  readonly maxAgents: number;
  readonly valueBounds: HeValueBounds;
  /** ceil(vectorLength / polyModulusDegree). */
  readonly ciphertextCount: number;
  /** Exact size of one uploaded (and of one aggregated) ciphertext, uncompressed. */
  readonly ciphertextByteSize: number;
  readonly publicKeyByteSize: number;
  readonly secretKeyByteSize: number;
  /** Estimated bits of noise budget left after adding `maxAgents` ciphertexts (≥ REQUIRED_NOISE_MARGIN_BITS). */
  readonly noiseMarginBits: number;
}

/** Inputs that fully determine a plan; everything else in HePlan is derived from them. */
export interface HePlanInput {
  polyModulusDegree: PolyModulusDegree;
  plainModulus: bigint;
  uploadCoeffModulusCount: number;
  vectorLength: number;
  maxAgents: number;
  valueBounds: HeValueBounds;
}

export interface HeParameterRequest {
  vectorLength: number;
  /** Per-agent, per-element inclusive bounds after fixed-point encoding. */
  valueBounds: HeValueBounds;
  /** Number of agents whose contributions are summed. */
  agents: number;
  /** Force a degree instead of choosing the one with the smaller upload. */
  polyModulusDegree?: PolyModulusDegree;
}

const abs = (x: bigint): bigint => (x < 0n ? -x : x);

function log2Big(x: bigint): number {
  // Exact enough for a budget estimate: products of SEAL primes stay far below Number.MAX_VALUE.
  return Math.log2(Number(x));
}

/** Largest |sum| of `agents` contributions within `bounds`. */
export function maxAbsoluteSum(bounds: HeValueBounds, agents: number): bigint {
  const m = abs(bounds.min) > abs(bounds.max) ? abs(bounds.min) : abs(bounds.max);
  return m * BigInt(agents);
}

/**
 * log2 of a high-probability bound on the mod-switching rounding error r0 + r1·s that a fresh, mod-switched
 * ciphertext carries (SEAL encrypts at the key level and switches down, so this term dominates at every data
 * level). Each coefficient has variance 1/12 + n/18 (r uniform in [−½, ½], s uniform ternary); we take 12σ.
 * Measured with node-seal 6.0.3, the worst coefficient over many encryptions sits near 5σ.
 */
export function freshNoiseBoundBits(polyModulusDegree: number): number {
  return Math.log2(12 * Math.sqrt(1 / 12 + polyModulusDegree / 18) + 1);
}

/**
 * Bits of noise headroom left after adding `agents` fresh ciphertexts at a level with modulus `q`:
 * decryption is correct while agents · t · B / q < ½ (worst case: noises add linearly).
 */
export function noiseMarginBits(polyModulusDegree: number, levelModulus: bigint, plainModulus: bigint, agents: number): number {
  return log2Big(levelModulus) - 1 - log2Big(plainModulus) - Math.log2(agents) - freshNoiseBoundBits(polyModulusDegree);
}

function levelModulus(chain: CoeffModulusChain, primes: number): bigint {
  let q = 1n;
  for (let i = 0; i < primes; i++) q *= chain.primes[i]!;
  return q;
}

function checkRequest(vectorLength: number, bounds: HeValueBounds, agents: number): void {
  if (!Number.isSafeInteger(vectorLength) || vectorLength < 1 || vectorLength > MAX_VECTOR_LENGTH) {
    throw new RangeError(`vectorLength must be an integer in [1, ${MAX_VECTOR_LENGTH}], got ${vectorLength}`);
  }
  if (!Number.isSafeInteger(agents) || agents < 1 || agents > MAX_AGENTS) {
    throw new RangeError(`agents must be an integer in [1, ${MAX_AGENTS}], got ${agents}`);
  }
  if (typeof bounds?.min !== 'bigint' || typeof bounds.max !== 'bigint') {
    throw new TypeError('valueBounds.min and valueBounds.max must be bigints');
  }
  if (bounds.min > bounds.max) throw new RangeError(`valueBounds.min (${bounds.min}) must be <= valueBounds.max (${bounds.max})`);
}

/** The smallest plain modulus whose centred range holds every possible sum: t ≥ 2·max|sum| + 1. */
export function requiredPlainModulusMinimum(bounds: HeValueBounds, agents: number): bigint {
  return 2n * maxAbsoluteSum(bounds, agents) + 1n;
}

/**
 * Validates a fully specified plan and derives its sizes. Use it on a plan received with a job: it
 * recomputes every guarantee instead of trusting the sender.
 * @throws RangeError naming the field that breaks a guarantee; TypeError for wrongly typed fields.
 */
export function compileHePlan(input: HePlanInput): HePlan {
  const { polyModulusDegree: n, plainModulus: t, uploadCoeffModulusCount: k, vectorLength, maxAgents, valueBounds } = input;
  if (!POLY_MODULUS_DEGREES.includes(n)) throw new RangeError(`polyModulusDegree must be one of ${POLY_MODULUS_DEGREES.join(', ')}, got ${n}`);
  checkRequest(vectorLength, valueBounds, maxAgents);
  const chain = SEAL_BFV_DEFAULT_COEFF_MODULUS[n];
  const dataPrimes = chain.primes.length - 1;
  if (!Number.isInteger(k) || k < 1 || k > dataPrimes) {
    throw new RangeError(`uploadCoeffModulusCount must be an integer in [1, ${dataPrimes}] for degree ${n}, got ${k}`);
  }
  if (typeof t !== 'bigint') throw new TypeError('plainModulus must be a bigint');
  if (t < 2n || t.toString(2).length > MAX_PLAIN_MODULUS_BITS) throw new RangeError(`plainModulus must be in [2, 2^${MAX_PLAIN_MODULUS_BITS}), got ${t}`);
  if (t % (2n * BigInt(n)) !== 1n || !isPrime(t)) {
    throw new RangeError(`plainModulus ${t} is not a batching prime for degree ${n} (a prime ≡ 1 mod ${2 * n})`);
  }
  const needed = requiredPlainModulusMinimum(valueBounds, maxAgents);
  if (t < needed) {
    throw new RangeError(
      `plainModulus ${t} is too small: the sum of ${maxAgents} agents' values in [${valueBounds.min}, ${valueBounds.max}] needs t >= ${needed}`,
    );
  }
  const margin = noiseMarginBits(n, levelModulus(chain, k), t, maxAgents);
  if (margin < REQUIRED_NOISE_MARGIN_BITS) {
    throw new RangeError(
      `plainModulus ${t} (${t.toString(2).length} bits) leaves ${margin.toFixed(2)} bits of noise margin after adding ${maxAgents} ciphertexts ` +
        `at degree ${n} with ${k} prime${k === 1 ? '' : 's'}; at least ${REQUIRED_NOISE_MARGIN_BITS} are required`,
    );
  }
  const keyPrimes = chain.primes.length;
  return Object.freeze({
    scheme: 'bfv',
    securityLevel: 'tc128',
    polyModulusDegree: n,
    plainModulus: t,
    coeffModulusBits: chain.bitSizes,
    uploadCoeffModulusCount: k,
    vectorLength,
    maxAgents,
    valueBounds: Object.freeze({ min: valueBounds.min, max: valueBounds.max }),
    ciphertextCount: ciphertextCountFor(vectorLength, n),
    ciphertextByteSize: ciphertextByteSize(n, k),
    publicKeyByteSize: publicKeyByteSize(n, keyPrimes),
    secretKeyByteSize: secretKeyByteSize(n, keyPrimes),
    noiseMarginBits: margin,
  });
}

/** Ciphertexts needed for a vector of `vectorLength` values: one per n batching slots. */
export function ciphertextCountFor(vectorLength: number, polyModulusDegree: number): number {
  if (!Number.isSafeInteger(vectorLength) || vectorLength < 0) throw new RangeError(`vectorLength must be a non-negative integer, got ${vectorLength}`);
  if (!Number.isSafeInteger(polyModulusDegree) || polyModulusDegree < 1) throw new RangeError(`polyModulusDegree must be a positive integer, got ${polyModulusDegree}`);
  return Math.ceil(vectorLength / polyModulusDegree);
}

/**
 * Chooses BFV parameters for a job. For each allowed degree it takes the smallest batching prime that holds
 * every possible sum, then the lowest level at which `agents` summed ciphertexts still decrypt, and keeps the
 * candidate with the fewest upload bytes per agent (ties: the smaller degree, which encrypts faster).
 * @throws RangeError naming the field when no supported parameters can hold the sum.
 */
export function selectHeParameters(request: HeParameterRequest): HePlan {
  const { vectorLength, valueBounds, agents } = request;
  checkRequest(vectorLength, valueBounds, agents);
  const degrees = request.polyModulusDegree === undefined ? POLY_MODULUS_DEGREES : [request.polyModulusDegree];
  if (request.polyModulusDegree !== undefined && !POLY_MODULUS_DEGREES.includes(request.polyModulusDegree)) {
    throw new RangeError(`polyModulusDegree must be one of ${POLY_MODULUS_DEGREES.join(', ')}, got ${request.polyModulusDegree}`);
  }
  const needed = requiredPlainModulusMinimum(valueBounds, agents);
  let best: HePlan | undefined;
  let bestBytes = Infinity;
  let widest = 0;
  for (const n of degrees) {
    const chain = SEAL_BFV_DEFAULT_COEFF_MODULUS[n];
    if (needed.toString(2).length > MAX_PLAIN_MODULUS_BITS) break;
    const t = smallestBatchingPrime(n, needed);
    if (t.toString(2).length > MAX_PLAIN_MODULUS_BITS) continue;
    for (let k = 1; k < chain.primes.length; k++) {
      const margin = noiseMarginBits(n, levelModulus(chain, k), t, agents);
      widest = Math.max(widest, Math.floor(log2Big(levelModulus(chain, k)) - 1 - Math.log2(agents) - freshNoiseBoundBits(n) - REQUIRED_NOISE_MARGIN_BITS));
      if (margin < REQUIRED_NOISE_MARGIN_BITS) continue;
      const bytes = ciphertextCountFor(vectorLength, n) * ciphertextByteSize(n, k);
      if (bytes < bestBytes) {
        best = compileHePlan({ polyModulusDegree: n, plainModulus: t, uploadCoeffModulusCount: k, vectorLength, maxAgents: agents, valueBounds });
        bestBytes = bytes;
      }
      break; // higher levels only cost more bytes at this degree
    }
  }
  if (best === undefined) {
    throw new RangeError(
      `valueBounds: the sum of ${agents} agents' values in [${valueBounds.min}, ${valueBounds.max}] needs a plain modulus of at least ` +
        `${needed.toString(2).length} bits, but the supported parameters hold at most ${Math.min(widest, MAX_PLAIN_MODULUS_BITS)} bits ` +
        `for ${agents} agents; narrow the bounds or lower the fixed-point scale`,
    );
  }
  return best;
}

/** JSON-safe form of a plan's defining inputs (bigints as decimal strings), for the job spec and key folders. */
export interface HePlanJson {
  scheme: 'bfv';
  polyModulusDegree: number;
  plainModulus: string;
  uploadCoeffModulusCount: number;
  vectorLength: number;
  maxAgents: number;
  valueBounds: { min: string; max: string };
}

export function hePlanToJson(plan: HePlan): HePlanJson {
  return {
    scheme: 'bfv',
    polyModulusDegree: plan.polyModulusDegree,
    plainModulus: plan.plainModulus.toString(),
    uploadCoeffModulusCount: plan.uploadCoeffModulusCount,
    vectorLength: plan.vectorLength,
    maxAgents: plan.maxAgents,
    valueBounds: { min: plan.valueBounds.min.toString(), max: plan.valueBounds.max.toString() },
  };
}

function bigintField(value: unknown, field: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value !== 'string' || !/^-?\d{1,40}$/.test(value)) throw new TypeError(`${field} must be a decimal integer string`);
  return BigInt(value);
}

function numberField(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new TypeError(`${field} must be an integer`);
  return value;
}

/**
 * Parses and re-validates a plan received from elsewhere (job spec, key folder, worker message).
 * @throws TypeError / RangeError naming the field.
 */
export function parseHePlan(json: unknown): HePlan {
  if (typeof json !== 'object' || json === null) throw new TypeError('he plan must be an object');
  const o = json as Record<string, unknown>;
  if (o['scheme'] !== 'bfv') throw new RangeError(`scheme must be 'bfv', got ${String(o['scheme'])}`);
  const bounds = o['valueBounds'];
  if (typeof bounds !== 'object' || bounds === null) throw new TypeError('valueBounds must be an object');
  const b = bounds as Record<string, unknown>;
  return compileHePlan({
    polyModulusDegree: numberField(o['polyModulusDegree'], 'polyModulusDegree') as PolyModulusDegree,
    plainModulus: bigintField(o['plainModulus'], 'plainModulus'),
    uploadCoeffModulusCount: numberField(o['uploadCoeffModulusCount'], 'uploadCoeffModulusCount'),
    vectorLength: numberField(o['vectorLength'], 'vectorLength'),
    maxAgents: numberField(o['maxAgents'], 'maxAgents'),
    valueBounds: { min: bigintField(b['min'], 'valueBounds.min'), max: bigintField(b['max'], 'valueBounds.max') },
  });
}
