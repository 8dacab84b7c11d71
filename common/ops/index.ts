/**
 * The public face of common/ops: the Prometheus metrics endpoint. Outside this folder import from here.
 */
export * from './metrics-server.js';
