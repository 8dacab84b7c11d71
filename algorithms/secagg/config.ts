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
  /**
   * carry[i] = 1 when limb i carries into limb i + 1 (both limbs of one multi-limb integer); undefined when every
   * limb is its own element (`elements` absent or all single limbs).
   */
  readonly carry: Uint8Array | undefined;
}

/** Most limbs one integer of a round may take. */
export const MAX_ELEMENT_LIMBS = 8;

function compileCarry(elements: SecAggRoundConfig['elements'], vectorLength: number): Uint8Array | undefined {
  if (elements === undefined) return undefined;
  if (!Array.isArray(elements)) throw new TypeError('config.elements must be an array of { limbs, count }');
  const carry = new Uint8Array(vectorLength);
  let at = 0;
  let wide = false;
  elements.forEach((r: unknown, i) => {
    const { limbs, count } = (r ?? {}) as { limbs?: unknown; count?: unknown };
    if (!Number.isSafeInteger(limbs) || (limbs as number) < 1 || (limbs as number) > MAX_ELEMENT_LIMBS) throw new RangeError(`config.elements[${i}].limbs must be an integer in [1, ${MAX_ELEMENT_LIMBS}], got ${String(limbs)}`);
    if (!Number.isSafeInteger(count) || (count as number) < 1) throw new RangeError(`config.elements[${i}].count must be a positive integer, got ${String(count)}`);
    const l = limbs as number;
    const c = count as number;
    if (at + l * c > vectorLength) throw new RangeError(`config.elements cover more than config.vectorLength (${vectorLength}) limbs`);
    if (l > 1) {
      wide = true;
      for (let e = 0; e < c; e++) carry.fill(1, at + e * l, at + e * l + l - 1);
    }
    at += l * c;
  });
  if (at !== vectorLength) throw new RangeError(`config.elements cover ${at} limbs, config.vectorLength is ${vectorLength}`);
  return wide ? carry : undefined;
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
    carry: compileCarry(config.elements, len),
  });
}

/** The smallest valid threshold for n participants: ⌊n/2⌋ + 1. */
export function minimumThreshold(participantCount: number): number {
  return Math.floor(participantCount / 2) + 1;
}
