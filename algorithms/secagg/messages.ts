/**
 * Round configuration and the wire messages of SecAgg. Every message is a plain object of strings, numbers,
 * arrays and `Uint8Array`s, so a transport can map it field by field to protobuf `bytes`/`string`/`repeated`.
 *
 * Rounds and directions (U1 ⊇ U2 ⊇ U3 ⊇ U4 are the clients still present after each round):
 *
 * | round | client → server | server → clients |
 * |---|---|---|
 * | 0 AdvertiseKeys | {@link AdvertiseKeysMessage} | one {@link AdvertisedKeysBroadcast} to every client in U1 |
 * | 1 ShareKeys | {@link ShareKeysMessage} | one {@link ShareKeysRelay} per client in U2 (only its own ciphertexts) |
 * | 2 MaskedInputCollection | {@link MaskedInputMessage} | one {@link UnmaskRequest} to every client in U3 |
 * | 3 Unmasking | {@link UnmaskResponse} | — (the server outputs a {@link SecAggResult}) |
 */

export interface SecAggParticipant {
  /** Stable agent id (as pinned at registration). */
  readonly id: string;
  /** The agent's long-term Ed25519 public key (32 raw bytes), pinned at registration — never taken from the server. */
  readonly identityPublicKey: Uint8Array;
}

export interface SecAggRoundConfig {
  /** Unique per round (e.g. `${jobId}/${round}`); bound into signatures, encryption and masks. */
  readonly roundId: string;
  /**
   * Shamir threshold t: every step needs at least t surviving clients, and t shares reconstruct a secret.
   * Must satisfy n/2 < t ≤ n: with t > n/2 no two disjoint groups of t clients exist, so a server that tells
   * different clients different stories about who dropped still cannot collect t self-mask shares and t key
   * shares of the same client (each client answers one unmask request only).
   */
  readonly threshold: number;
  /** Length of the input vector in 32-bit limbs. */
  readonly vectorLength: number;
  /**
   * How the limbs form the integers that are summed: runs of `count` consecutive integers of `limbs` 32-bit limbs
   * each (least significant first), each added in Z_2^(32·limbs) with carries between its limbs, so the sum of a
   * multi-limb value is revealed as one integer mod 2^(32·limbs) and never limb by limb (which would show how the
   * inputs carry). Σ limbs·count must be `vectorLength`. Absent: every limb is its own element of Z_2^32.
   */
  readonly elements?: readonly SecAggElementRun[];
  /**
   * All participants of the round, in an order every party agrees on: participant i (0-based) holds Shamir share
   * index i + 1, and the order decides the sign of pairwise masks. At least 3 (with 2, the sum reveals the other).
   */
  readonly participants: readonly SecAggParticipant[];
}

/** `count` consecutive integers of `limbs` 32-bit limbs each (see {@link SecAggRoundConfig.elements}). */
export interface SecAggElementRun {
  readonly limbs: number;
  readonly count: number;
}

/** Round 0, client → server: fresh key pairs for this round, signed with the identity key. */
export interface AdvertiseKeysMessage {
  readonly roundId: string;
  readonly clientId: string;
  /** X25519 public key for pairwise mask agreement (s_u^PK in Bonawitz et al.). */
  readonly agreementPublicKey: Uint8Array;
  /** X25519 public key for encrypting shares to this client (c_u^PK in Bonawitz et al.). */
  readonly encryptionPublicKey: Uint8Array;
  /** Ed25519 signature over (roundId, clientId, agreementPublicKey, encryptionPublicKey). */
  readonly signature: Uint8Array;
}

/** Round 0, server → every client in U1: all advertisements received (including the recipient's own). */
export interface AdvertisedKeysBroadcast {
  readonly roundId: string;
  readonly advertisements: readonly AdvertiseKeysMessage[];
}

export interface EncryptedShareOut {
  readonly recipientId: string;
  /** AEAD ciphertext of (self-mask seed share ‖ agreement key share) under the sender→recipient key. */
  readonly ciphertext: Uint8Array;
}

/** Round 1, client → server: one ciphertext for every other client in U1. */
export interface ShareKeysMessage {
  readonly roundId: string;
  readonly clientId: string;
  readonly encryptedShares: readonly EncryptedShareOut[];
}

export interface EncryptedShareIn {
  readonly senderId: string;
  readonly ciphertext: Uint8Array;
}

/** Round 1, server → one client in U2: the ciphertexts addressed to it from every other client in U2. */
export interface ShareKeysRelay {
  readonly roundId: string;
  readonly recipientId: string;
  readonly encryptedShares: readonly EncryptedShareIn[];
}

/** Round 2, client → server: y_u = x_u + PRG(b_u) + Σ_{v<u} PRG(s_uv) − Σ_{v>u} PRG(s_uv), little-endian uint32. */
export interface MaskedInputMessage {
  readonly roundId: string;
  readonly clientId: string;
  readonly maskedInput: Uint8Array;
}

/** Round 2 → 3, server → every client in U3: who sent a masked input (survivors) and who did not (dropped). */
export interface UnmaskRequest {
  readonly roundId: string;
  /** U3: the clients whose masked input arrived; the server asks for shares of their self-mask seeds. */
  readonly survivorIds: readonly string[];
  /** U2 \ U3: clients that shared keys but sent no masked input; the server asks for shares of their agreement keys. */
  readonly droppedIds: readonly string[];
}

export interface ShareForOwner {
  readonly ownerId: string;
  /** The Shamir share value (66 bytes); its index is the responder's participant index. */
  readonly share: Uint8Array;
}

/** Round 3, client → server. */
export interface UnmaskResponse {
  readonly roundId: string;
  readonly clientId: string;
  /** One per survivor (including the responder itself). */
  readonly selfMaskShares: readonly ShareForOwner[];
  /** One per dropped client. */
  readonly agreementKeyShares: readonly ShareForOwner[];
}

/** The server's output. */
export interface SecAggResult {
  readonly roundId: string;
  /** Σ_{u ∈ contributorIds} x_u in Z_2^32, exactly. */
  readonly sum: Uint32Array;
  /** The clients whose inputs are in the sum (U3), in participant order. */
  readonly contributorIds: readonly string[];
  /** The participants whose inputs are not in the sum, in participant order. */
  readonly droppedIds: readonly string[];
}

export type SecAggMessage =
  | AdvertiseKeysMessage
  | AdvertisedKeysBroadcast
  | ShareKeysMessage
  | ShareKeysRelay
  | MaskedInputMessage
  | UnmaskRequest
  | UnmaskResponse;

function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    bytes++;
  }
  return bytes;
}

const utf8 = new TextEncoder();

function fieldSize(value: unknown): number {
  // tag byte + length prefix + payload, as protobuf encodes a length-delimited field.
  if (value instanceof Uint8Array) return 1 + varintBytes(value.length) + value.length;
  if (typeof value === 'string') {
    const n = utf8.encode(value).length;
    return 1 + varintBytes(n) + n;
  }
  if (typeof value === 'number') return 1 + 5;
  if (Array.isArray(value)) return value.reduce((acc: number, item) => acc + fieldSize(item), 0);
  if (value !== null && typeof value === 'object') {
    const inner = estimateEncodedSize(value);
    return 1 + varintBytes(inner) + inner;
  }
  return 0;
}

/**
 * The size in bytes of a message encoded as protobuf would be (fields by name, length-delimited), for
 * accounting and benchmarks. It is an estimate of the transport's encoding, exact for bytes payloads.
 */
export function estimateEncodedSize(message: object): number {
  let total = 0;
  for (const value of Object.values(message)) total += fieldSize(value);
  return total;
}
