import { BufferedRng } from '../../algorithms/dp/index.js';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';

/**
 * The seeded Rng a golden mesh hands each server through the test-only seam. Every case starts every server on a
 * fresh stream keyed by (case, server), so a case's draws do not depend on which cases ran before it (a port that
 * changes one kind's draws fails that kind's cases only). It is a BufferedRng, so the server uses it as it is
 * (`createServerRng`), and each stream sits behind a buffer of the production size: the samplers read it exactly
 * as they read the CSPRNG in production.
 */
export class CaseRng extends BufferedRng {
  private stream: BufferedRng;
  private used = false;

  constructor(private readonly server: string) {
    super(createSeededRng(0), 64);
    this.stream = CaseRng.streamFor('before-any-case', server);
  }

  private static streamFor(caseName: string, server: string): BufferedRng {
    return new BufferedRng(createSeededRng(`fedmesh-golden/${caseName}/${server}`));
  }

  /** Restarts this server's stream for `caseName` and forgets whether it drew. */
  beginCase(caseName: string): void {
    this.stream = CaseRng.streamFor(caseName, this.server);
    this.used = false;
  }

  /** Whether the server drew any randomness since `beginCase`: who adds noise is part of a privacy mode. */
  drew(): boolean {
    return this.used;
  }

  override fill(bytes: Uint8Array): Uint8Array {
    this.used = true;
    return this.stream.fill(bytes);
  }
  override nextUint32(): number {
    this.used = true;
    return this.stream.nextUint32();
  }
  override nextBit(): number {
    this.used = true;
    return this.stream.nextBit();
  }
  override uniformInt(n: number): number {
    this.used = true;
    return this.stream.uniformInt(n);
  }
  override uniformBigInt(n: bigint): bigint {
    this.used = true;
    return this.stream.uniformBigInt(n);
  }
}
