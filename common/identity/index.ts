/**
 * The public face of common/identity: the signed identity assertion a coordinator or agent presents. Outside this folder import from here.
 */
export * from './identity-assertion.js';
