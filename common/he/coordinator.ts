/**
 * The coordinator's face of the HE layer: adding ciphertexts and screening them. Nothing reachable from here
 * can generate keys or decrypt (aggregate-isolation.test.ts checks the whole import graph).
 */
export { addCiphertexts, addCiphertextRange, assertPublicPlan } from './aggregate.js';
export { guardCiphertextBytes } from './load-guard.js';
export { createHePool, compileHePoolOptions, resolveHeWorkerPath } from './pool.js';
export type { HePool, HePoolOptions, CompiledHePoolOptions, HeTaskOptions } from './pool.js';
