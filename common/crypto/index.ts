export {
  aesCtrPrg,
  createIdentityKeyPair,
  createNodeSecAggCrypto,
  identityKeyPairFromPem,
  identityPrivateKeyToPem,
  identityPublicKeyFromPem,
  identityPublicKeyOf,
  identityPublicKeyToPem,
  type IdentityKeyPair,
} from './secagg-node-crypto.js';
export { secAggErrorToFedmesh } from './secagg-errors.js';
