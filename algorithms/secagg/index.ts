/**
 * Secure aggregation (pairwise masking, Bonawitz et al. 2017): ring arithmetic, fixed-point encoding, Shamir
 * sharing, mask expansion and the client/server state machines. Pure: crypto and randomness are injected.
 */
export {
  ringAdd,
  ringAddInPlace,
  ringAddInPlaceCarry,
  ringFromBytes,
  ringNeg,
  ringSub,
  ringSubInPlace,
  ringSubInPlaceCarry,
  ringSum,
  ringToBytes,
  ring64Add,
  ring64Neg,
  ring64Sub,
  ring64Sum,
} from './ring.js';
export {
  checkFixedPointSumBound,
  createFixedPointCodec,
  decodeFixedPoint,
  encodeFixedPoint,
  type FixedPointCodec,
  type FixedPointCodecOptions,
  type FixedPointSumBound,
} from './fixed-point.js';
export {
  createShamirReconstructor,
  shamirCombine,
  shamirSplit,
  SHAMIR_MAX_SECRET_BYTES,
  SHAMIR_PRIME,
  SHAMIR_SHARE_BYTES,
  type ShamirReconstructor,
  type ShamirShare,
} from './shamir.js';
export { expandMask, MASK_INFO_PREFIX } from './mask.js';
export type { Prg, SecAggCrypto, X25519KeyPair } from './crypto.js';
export { compileSecAggRoundConfig, minimumThreshold, MAX_ELEMENT_LIMBS, MAX_VECTOR_LENGTH, MIN_PARTICIPANTS, type CompiledSecAggRoundConfig } from './config.js';
export { advertisementPayload } from './derive.js';
export { isSecAggError, SecAggError, type SecAggErrorCode } from './errors.js';
export { estimateEncodedSize } from './messages.js';
export type {
  AdvertiseKeysMessage,
  AdvertisedKeysBroadcast,
  EncryptedShareIn,
  EncryptedShareOut,
  MaskedInputMessage,
  SecAggMessage,
  SecAggParticipant,
  SecAggResult,
  SecAggRoundConfig,
  SecAggElementRun,
  ShareForOwner,
  ShareKeysMessage,
  ShareKeysRelay,
  UnmaskRequest,
  UnmaskResponse,
} from './messages.js';
export { SecAggClient, type SecAggClientOptions, type SecAggClientPhase } from './client.js';
export { SecAggServer, type SecAggServerOptions, type SecAggServerPhase } from './server.js';
export { runSecAggRoundInMemory, type InMemoryAgent, type InMemoryRoundOptions, type SecAggClientStep } from './in-memory.js';
