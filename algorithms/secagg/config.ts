/**
 * Validation of a {@link SecAggRoundConfig} once, at the edge of both state machines, into a frozen compiled form
 * with the participant index the rest of the code trusts.
 */
import type { SecAggParticipant, SecAggRoundConfig } from './messages.js';

/** Largest vector accepted (2^26 elements = 256 MiB of masks per peer); larger inputs should be chunked. */
export const MAX_VECTOR_LENGTH = 2 ** 26;
/** Fewest participants: with two, the sum tells each agent the other's input. */
export const MIN_PARTICIPANTS = 3;

export interface CompiledSecAggRoundConfig {
  readonly roundId: string;
  readonly threshold: number;
  readonly vectorLength: number;
  readonly participants: readonly SecAggParticipant[];
  /** id → Shamir index (1-based position in `participants`). */
  readonly indexOf: ReadonlyMap<string, number>;
}

/**
 * @throws RangeError/TypeError naming the field at fault
 */
export function compileSecAggRoundConfig(config: SecAggRoundConfig): CompiledSecAggRoundConfig {
  if (typeof config.roundId !== 'string' || config.roundId.length === 0) throw new TypeError('config.roundId must be a non-empty string');
  const participants = config.participants;
  if (!Array.isArray(participants)) throw new TypeError('config.participants must be an array');
  const n = participants.length;
  if (n < MIN_PARTICIPANTS) throw new RangeError(`config.participants must have at least ${MIN_PARTICIPANTS} entries, got ${n}`);
  const indexOf = new Map<string, number>();
  participants.forEach((p, i) => {
    if (typeof p.id !== 'string' || p.id.length === 0) throw new TypeError(`config.participants[${i}].id must be a non-empty string`);
    if (indexOf.has(p.id)) throw new RangeError(`config.participants[${i}].id '${p.id}' is repeated`);
    if (!(p.identityPublicKey instanceof Uint8Array) || p.identityPublicKey.length !== 32) {
      throw new TypeError(`config.participants[${i}].identityPublicKey must be 32 raw bytes`);
    }
    indexOf.set(p.id, i + 1);
  });
  const t = config.threshold;
  if (!Number.isSafeInteger(t) || t <= n / 2 || t > n) {
    throw new RangeError(`config.threshold must be an integer with n/2 < threshold <= n (n = ${n}), got ${t}`);
  }
  const len = config.vectorLength;
  if (!Number.isSafeInteger(len) || len < 1 || len > MAX_VECTOR_LENGTH) {
    throw new RangeError(`config.vectorLength must be an integer in [1, ${MAX_VECTOR_LENGTH}], got ${len}`);
  }
  return Object.freeze({
    roundId: config.roundId,
    threshold: t,
    vectorLength: len,
    participants: Object.freeze(participants.map((p) => Object.freeze({ id: p.id, identityPublicKey: Uint8Array.from(p.identityPublicKey) }))),
    indexOf,
  });
}

/** The smallest valid threshold for n participants: ⌊n/2⌋ + 1. */
export function minimumThreshold(participantCount: number): number {
  return Math.floor(participantCount / 2) + 1;
}
