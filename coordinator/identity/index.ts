export { createOidcVerifier, compileOidcOptions, DEFAULT_OIDC_ALGORITHMS, type OidcOptions, type OidcVerifier, type CompiledOidcOptions } from './oidc-verifier.js';
export { compileClaimsMap, type ClaimsMapOptions, type CompiledClaimsMap } from './claims-map.js';
