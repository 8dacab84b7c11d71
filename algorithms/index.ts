export * from './rng.js';
export * as aggregate from './aggregate/index.js';
