/** Homomorphic encryption (BFV) — the pure part: parameters, encodings, sizes and the ciphertext screen. */
export {
  POLY_MODULUS_DEGREES,
  SEAL_BFV_DEFAULT_COEFF_MODULUS,
  MAX_PLAIN_MODULUS_BITS,
  REQUIRED_NOISE_MARGIN_BITS,
  MAX_AGENTS,
  MAX_VECTOR_LENGTH,
  selectHeParameters,
  compileHePlan,
  parseHePlan,
  hePlanToJson,
  ciphertextCountFor,
  maxAbsoluteSum,
  requiredPlainModulusMinimum,
  noiseMarginBits,
  freshNoiseBoundBits,
} from './parameters.js';
export type { PolyModulusDegree, CoeffModulusChain, HeValueBounds, HePlan, HePlanInput, HeParameterRequest, HePlanJson } from './parameters.js';
export {
  MAX_FRACTIONAL_BITS,
  encodeFixedPoint,
  decodeFixedPoint,
  fixedPointBounds,
  assertWithinPlan,
  assertWithinBounds,
  toCentredResidue,
  fromCentredResidue,
} from './encoding.js';
export type { HeIntegerVector } from './encoding.js';
export { isPrime, smallestBatchingPrime } from './primes.js';
export {
  SEAL_MAGIC,
  SEAL_HEADER_BYTES,
  SEAL_VERSION_MAJOR,
  SEAL_VERSION_MINOR,
  CIPHERTEXT_OVERHEAD_BYTES,
  PLAINTEXT_OVERHEAD_BYTES,
  ciphertextByteSize,
  publicKeyByteSize,
  secretKeyByteSize,
  readSealHeader,
  screenCiphertextBytes,
} from './serialization.js';
export type { SealCompression, SealHeader, ScreenResult, CiphertextExpectation } from './serialization.js';
