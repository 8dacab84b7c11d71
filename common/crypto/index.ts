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
export { ed25519PrivateKeyObject, ed25519PublicKeyObject } from './identity-key.js';
