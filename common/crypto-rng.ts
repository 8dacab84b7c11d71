import { randomFillSync } from 'node:crypto';
import type { Rng } from '../algorithms/rng.js';

/** The production Rng: Node's cryptographically secure generator (OpenSSL's CSPRNG). */
export function createCryptoRng(): Rng {
  return {
    fill(bytes: Uint8Array): Uint8Array {
      return randomFillSync(bytes);
    },
  };
}
