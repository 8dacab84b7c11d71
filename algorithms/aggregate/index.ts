export * from './partial.js';
export * from './finalize.js';
export * from './fixed-point.js';
export { withholdComplement } from './complement.js';
