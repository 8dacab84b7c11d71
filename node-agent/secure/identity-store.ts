import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createIdentityKeyPair, identityKeyPairFromPem, identityPrivateKeyToPem, type IdentityKeyPair } from '../../common/crypto/index.js';

export const IDENTITY_KEY_FILE = 'identity-ed25519.key';

/**
 * The agent's long-term Ed25519 identity key (SecAgg signs its per-round keys with it), kept in its state folder as
 * PKCS#8 PEM, mode 0600. Made on first start; the same key is announced (signed by the mTLS key) at every registration.
 */
export function loadOrCreateIdentityKey(stateDir: string): IdentityKeyPair {
  mkdirSync(stateDir, { recursive: true });
  const path = join(stateDir, IDENTITY_KEY_FILE);
  if (existsSync(path)) return identityKeyPairFromPem(readFileSync(path, 'utf8'));
  const pair = createIdentityKeyPair();
  writeFileSync(path, identityPrivateKeyToPem(pair.privateKey), { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return pair;
}
