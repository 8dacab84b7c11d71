import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { createIdentityKeyPair, identityKeyPairFromPem, identityPrivateKeyToPem, identityPublicKeyToPem, type IdentityKeyPair } from '../../common/crypto/index.js';

export const COORDINATOR_SIGNING_KEY_FILE = 'coordinator-ed25519.key';
/** The public half, written next to it for operators to hand to agents (`fedmesh agent --coordinator-key FILE`). */
export const COORDINATOR_PUBLIC_KEY_FILE = 'coordinator-ed25519.pub';

/**
 * The coordinator's Ed25519 key that signs identity assertions to agents, kept in its state folder as PKCS#8 PEM,
 * mode 0600, made on first start. Its public half is published to agents at registration (they pin it on first
 * sight, or an operator configures it with `fedmesh agent --coordinator-key`).
 */
export function loadOrCreateSigningKey(stateDir: string): IdentityKeyPair {
  const path = join(stateDir, COORDINATOR_SIGNING_KEY_FILE);
  let pair: IdentityKeyPair;
  if (existsSync(path)) {
    chmodSync(path, 0o600);
    pair = identityKeyPairFromPem(readFileSync(path, 'utf8'));
  } else {
    pair = createIdentityKeyPair();
    writeFileSync(path, identityPrivateKeyToPem(pair.privateKey), { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
  }
  writeFileSync(join(stateDir, COORDINATOR_PUBLIC_KEY_FILE), identityPublicKeyToPem(pair.publicKey), { mode: 0o600 });
  return pair;
}
