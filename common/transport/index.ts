/**
 * The public face of common/transport: gRPC credentials, the proto loader, health, status mapping and graceful shutdown. Outside this folder import from here, not from its modules.
 */
export * from './credentials.js';
export * from './health.js';
export * from './proto.js';
export * from './shutdown.js';
export * from './status-map.js';
export * from './chunks.js';
