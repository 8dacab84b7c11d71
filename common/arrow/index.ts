/**
 * The public face of common/arrow: the Arrow IPC codecs of partials and cells, their size guard and the decimal reader. Outside this folder import from here, not from its modules.
 */
export * from './cells-codec.js';
export * from './decimal.js';
export * from './ipc-guard.js';
export * from './partials-codec.js';
