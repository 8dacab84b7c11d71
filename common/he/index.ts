/**
 * Homomorphic encryption (BFV via node-seal) — the Node side.
 *
 * Who calls what:
 *   researcher client: generateHeKeyPair, saveHeKeyFolder / loadHeKeyFolder, decryptVector / decryptReals
 *   agent:             encryptVector, or createHePool().encrypt
 *   coordinator:       import from './coordinator.js' only (addCiphertexts, createHePool().add), which
 *                      cannot reach key generation or decryption.
 * Parameters, encodings and sizes are pure and live in algorithms/he.
 */
export { loadSeal, getSealContext } from './seal.js';
export type { SealContext } from './seal.js';
export { guardCiphertextBytes, loadCiphertext, loadPublicKey } from './load-guard.js';
export { encryptVector, encryptSlice, publicKeyFingerprint } from './encrypt.js';
export { addCiphertexts, addCiphertextRange, assertPublicPlan } from './aggregate.js';
export { decryptVector, decryptReals } from './decrypt.js';
export type { DecryptOptions } from './decrypt.js';
export {
  HeSecretKey,
  generateHeKeyPair,
  saveHeKeyFolder,
  loadHeKeyFolder,
  KEY_FOLDER_MANIFEST,
  PUBLIC_KEY_FILE,
  SECRET_KEY_FILE,
} from './keys.js';
export type { HeKeyPair, SaveHeKeyFolderOptions } from './keys.js';
export { splitCiphertexts } from './buffers.js';
export { createHePool, compileHePoolOptions, resolveHeWorkerPath } from './pool.js';
export type { HePool, HePoolOptions, CompiledHePoolOptions, HeTaskOptions } from './pool.js';
