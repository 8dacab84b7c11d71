import { randomFillSync } from 'node:crypto';
import { asBufferedRng } from '../algorithms/dp/index.js';
import type { Rng } from '../algorithms/rng.js';

/** The production Rng: Node's cryptographically secure generator (OpenSSL's CSPRNG). */
export function createCryptoRng(): Rng {
  return {
    fill(bytes: Uint8Array): Uint8Array {
      return randomFillSync(bytes);
    },
  };
}

/**
 * The Rng a coordinator or an agent draws all its privacy noise from: the CSPRNG behind a block-reading buffer.
 * `testOnly` is the golden tests' seam (test/golden): a seeded generator, so that a DP job's result replays draw
 * for draw. It arrives only through the `testOnlyRng` constructor option of `Coordinator.create` / `Agent.create`,
 * which the CLI never sets and no environment variable or config file reaches (test/unit/test-only-rng.test.ts
 * scans the product code for any other use). A seam that already is a BufferedRng is used as it is (the golden
 * tests' per-case generator is one), so a test controls the buffer as well as the bytes.
 */
export function createServerRng(testOnly?: Rng): Rng {
  return asBufferedRng(testOnly ?? createCryptoRng());
}
