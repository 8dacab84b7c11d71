export { createOidcVerifier, compileOidcOptions, DEFAULT_OIDC_ALGORITHMS, type OidcOptions, type OidcVerifier, type CompiledOidcOptions } from './oidc-verifier.js';
export { compileClaimsMap, type ClaimsMapOptions, type CompiledClaimsMap } from './claims-map.js';
export { JobIdentities } from './job-identities.js';
export { loadOrCreateSigningKey, COORDINATOR_SIGNING_KEY_FILE, COORDINATOR_PUBLIC_KEY_FILE } from './signing-key.js';
export { mapClaims } from './claims-map.js';
export { createJwksFetch } from './jwks-fetch.js';
