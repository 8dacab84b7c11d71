/** Secure aggregation wired into jobs: the public vector layout, limb codec, distributed noise, release, identity attestation. */
export * from './limbs.js';
export * from './vector-layout.js';
export * from './distributed-noise.js';
export * from './secure-release.js';
export * from './secure-job.js';
export * from './envelope.js';
export * from './identity-attestation.js';
export * from './cell-layout.js';
export * from './secure-max-rows.js';
export { attestationToJson, checkHeBinding, heRoundId, signHeBinding, verifyHeBindings, type HeBinding, type HeRoundStart } from './he-binding.js';
