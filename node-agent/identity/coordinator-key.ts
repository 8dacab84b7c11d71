/**
 * The coordinator key this agent trusts for identity assertions: configured by the operator
 * (`--coordinator-key FILE`, the coordinator's `coordinator-ed25519.pub`) or pinned the first time a coordinator
 * publishes one at registration (kept in the state folder, 0600). Once known it never changes by itself: a
 * coordinator that publishes another key is logged and its assertions fail verification, so a swapped coordinator
 * (or a man in the middle holding a coordinator certificate) cannot speak for researchers.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { identityPublicKeyFromPem, identityPublicKeyToPem } from '../../common/crypto/index.js';

export const PINNED_COORDINATOR_KEY_FILE = 'coordinator-identity.pub';

type Log = (event: string, fields?: Record<string, unknown>) => void;

const hex = (k: Uint8Array): string => Buffer.from(k).toString('hex');

export class CoordinatorKeyPin {
  private key: Uint8Array | undefined;
  private readonly source: 'configured' | 'pinned' | 'none';

  /** @throws RangeError naming `options.coordinatorKey` when the configured key is not 32 bytes */
  constructor(
    private readonly stateDir: string,
    configured: Uint8Array | undefined,
    private readonly log: Log,
  ) {
    if (configured) {
      if (configured.length !== 32) throw new RangeError('options.coordinatorKey must be an Ed25519 public key (32 raw bytes)');
      this.key = Uint8Array.from(configured);
      this.source = 'configured';
      return;
    }
    const path = join(stateDir, PINNED_COORDINATOR_KEY_FILE);
    this.key = existsSync(path) ? identityPublicKeyFromPem(readFileSync(path, 'utf8')) : undefined;
    this.source = this.key ? 'pinned' : 'none';
  }

  /** The key assertions are verified with; undefined until a coordinator published one (or one was configured). */
  current(): Uint8Array | undefined {
    return this.key;
  }

  /** A key the coordinator published at registration: pinned if none is known, else compared. */
  published(key: Uint8Array): void {
    if (key.length !== 32) {
      this.log('coordinator-key-invalid', { bytes: key.length });
      return;
    }
    if (!this.key) {
      const path = join(this.stateDir, PINNED_COORDINATOR_KEY_FILE);
      writeFileSync(path, identityPublicKeyToPem(key), { mode: 0o600 });
      chmodSync(path, 0o600);
      this.key = Uint8Array.from(key);
      this.log('coordinator-key-pinned', { key: hex(key).slice(0, 16) });
      return;
    }
    if (hex(key) !== hex(this.key)) {
      this.log('coordinator-key-mismatch', { trusted: hex(this.key).slice(0, 16), published: hex(key).slice(0, 16), source: this.source === 'none' ? 'pinned' : this.source });
    }
  }
}
