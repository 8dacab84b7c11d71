/**
 * The coordinator's side of SecAgg as a state machine without I/O. For each round the transport feeds in the
 * messages that arrive before the deadline (`receive*`), then closes the round (`close*`/`finish`), which checks
 * the quorum and returns what to send next. A message that fails validation throws and is not recorded: the
 * transport should treat its sender as dropped.
 *
 * The server learns only the sum over U3: it reconstructs b_u for every u ∈ U3 (to remove self masks) and s_u^SK
 * for every u ∈ U2 \ U3 (to remove the pairwise masks survivors added for dropped clients), never both for one u.
 */
import { compileSecAggRoundConfig, type CompiledSecAggRoundConfig } from './config.js';
import type { SecAggCrypto } from './crypto.js';
import { advertisementPayload, pairwiseSeed, SEED_BYTES, X25519_KEY_BYTES } from './derive.js';
import { SecAggError } from './errors.js';
import { expandMask } from './mask.js';
import type {
  AdvertiseKeysMessage,
  AdvertisedKeysBroadcast,
  EncryptedShareIn,
  MaskedInputMessage,
  SecAggResult,
  SecAggRoundConfig,
  ShareForOwner,
  ShareKeysMessage,
  ShareKeysRelay,
  UnmaskRequest,
  UnmaskResponse,
} from './messages.js';
import { ringAddInPlaceCarry, ringFromBytes, ringSubInPlaceCarry } from './ring.js';
import { createShamirReconstructor, SHAMIR_SHARE_BYTES } from './shamir.js';

export type SecAggServerPhase = 'advertise' | 'share' | 'collect' | 'unmask' | 'done' | 'failed';

export interface SecAggServerOptions {
  config: SecAggRoundConfig;
  crypto: SecAggCrypto;
}

export class SecAggServer {
  private readonly config: CompiledSecAggRoundConfig;
  private readonly crypto: SecAggCrypto;
  private phaseValue: SecAggServerPhase = 'advertise';

  private readonly advertised = new Map<string, AdvertiseKeysMessage>();
  /** U1, fixed when AdvertiseKeys closes. */
  private u1: string[] = [];
  private readonly shared = new Map<string, ShareKeysMessage>();
  private u2: string[] = [];
  private readonly masked = new Map<string, Uint32Array>();
  private u3: string[] = [];
  private droppedAfterShare: string[] = [];
  private readonly unmaskResponses = new Map<string, UnmaskResponse>();

  /** @throws RangeError/TypeError for a bad config */
  constructor(options: SecAggServerOptions) {
    this.config = compileSecAggRoundConfig(options.config);
    this.crypto = options.crypto;
  }

  get phase(): SecAggServerPhase {
    return this.phaseValue;
  }

  /** The clients the server is waiting for in the current round (for deadlines and dropout detection). */
  pendingClientIds(): string[] {
    const ids = this.config.participants.map((p) => p.id);
    switch (this.phaseValue) {
      case 'advertise':
        return ids.filter((id) => !this.advertised.has(id));
      case 'share':
        return this.u1.filter((id) => !this.shared.has(id));
      case 'collect':
        return this.u2.filter((id) => !this.masked.has(id));
      case 'unmask':
        return this.u3.filter((id) => !this.unmaskResponses.has(id));
      default:
        return [];
    }
  }

  /** Round 0 input. @throws SecAggError if the message is malformed, duplicated, or not signed by the sender's pinned identity */
  receiveAdvertisement(message: AdvertiseKeysMessage): void {
    this.expectPhase('advertise', 'receiveAdvertisement');
    const pinned = this.participant(message.clientId, message.roundId);
    if (this.advertised.has(message.clientId)) this.malformed(`duplicate advertisement from '${message.clientId}'`, message.clientId);
    if (!(message.agreementPublicKey instanceof Uint8Array) || message.agreementPublicKey.length !== X25519_KEY_BYTES ||
      !(message.encryptionPublicKey instanceof Uint8Array) || message.encryptionPublicKey.length !== X25519_KEY_BYTES) {
      this.malformed(`advertisement from '${message.clientId}' has keys of the wrong size`, message.clientId);
    }
    // Clients verify signatures themselves; checking here only keeps a broken agent from spoiling the round for all.
    if (!(message.signature instanceof Uint8Array) || !this.crypto.ed25519Verify(pinned.identityPublicKey, advertisementPayload(message), message.signature)) {
      throw new SecAggError('SECAGG_BAD_SIGNATURE', `advertisement from '${message.clientId}' is not signed by its pinned identity key`, { clientId: message.clientId });
    }
    this.advertised.set(message.clientId, message);
  }

  /**
   * Closes AdvertiseKeys: U1 = clients that advertised.
   * @returns the broadcast to send to every client in U1 (`u1Ids`)
   * @throws SecAggError SECAGG_QUORUM_NOT_MET if |U1| < t
   */
  closeAdvertiseKeys(): AdvertisedKeysBroadcast {
    this.expectPhase('advertise', 'closeAdvertiseKeys');
    this.u1 = this.inParticipantOrder(this.advertised.keys());
    this.checkQuorum(this.u1.length, 'AdvertiseKeys');
    this.phaseValue = 'share';
    return { roundId: this.config.roundId, advertisements: this.u1.map((id) => this.advertised.get(id)!) };
  }

  /** Round 1 input. @throws SecAggError unless the sender is in U1 and sent exactly one ciphertext to every other client in U1 */
  receiveShareKeys(message: ShareKeysMessage): void {
    this.expectPhase('share', 'receiveShareKeys');
    this.participant(message.clientId, message.roundId);
    if (!this.u1.includes(message.clientId)) this.malformed(`'${message.clientId}' sent shares but did not advertise keys`, message.clientId);
    if (this.shared.has(message.clientId)) this.malformed(`duplicate shares from '${message.clientId}'`, message.clientId);
    const recipients = new Set<string>();
    for (const s of message.encryptedShares) {
      if (s.recipientId === message.clientId || !this.u1.includes(s.recipientId) || recipients.has(s.recipientId) || !(s.ciphertext instanceof Uint8Array)) {
        this.malformed(`shares from '${message.clientId}' have a bad or repeated recipient '${s.recipientId}'`, message.clientId);
      }
      recipients.add(s.recipientId);
    }
    if (recipients.size !== this.u1.length - 1) this.malformed(`'${message.clientId}' did not send shares to every other client in U1`, message.clientId);
    this.shared.set(message.clientId, message);
  }

  /**
   * Closes ShareKeys: U2 = clients in U1 that sent shares.
   * @returns one relay per client in U2, each holding only the ciphertexts addressed to it
   * @throws SecAggError SECAGG_QUORUM_NOT_MET if |U2| < t
   */
  closeShareKeys(): ShareKeysRelay[] {
    this.expectPhase('share', 'closeShareKeys');
    this.u2 = this.inParticipantOrder(this.shared.keys());
    this.checkQuorum(this.u2.length, 'ShareKeys');
    const inbox = new Map<string, EncryptedShareIn[]>(this.u2.map((id) => [id, []]));
    for (const senderId of this.u2) {
      for (const { recipientId, ciphertext } of this.shared.get(senderId)!.encryptedShares) {
        inbox.get(recipientId)?.push({ senderId, ciphertext });
      }
    }
    this.shared.clear();
    this.phaseValue = 'collect';
    return this.u2.map((recipientId) => ({ roundId: this.config.roundId, recipientId, encryptedShares: inbox.get(recipientId)! }));
  }

  /** Round 2 input. @throws SecAggError unless the sender is in U2 and the vector has the configured length */
  receiveMaskedInput(message: MaskedInputMessage): void {
    this.expectPhase('collect', 'receiveMaskedInput');
    this.participant(message.clientId, message.roundId);
    if (!this.u2.includes(message.clientId)) this.malformed(`'${message.clientId}' sent a masked input but did not share keys`, message.clientId);
    if (this.masked.has(message.clientId)) this.malformed(`duplicate masked input from '${message.clientId}'`, message.clientId);
    if (!(message.maskedInput instanceof Uint8Array) || message.maskedInput.length !== this.config.vectorLength * 4) {
      this.malformed(`masked input from '${message.clientId}' must be ${this.config.vectorLength * 4} bytes`, message.clientId);
    }
    this.masked.set(message.clientId, ringFromBytes(message.maskedInput));
  }

  /**
   * Closes MaskedInputCollection: U3 = clients in U2 whose masked input arrived.
   * @returns the request to send to every client in U3 (the same for all of them)
   * @throws SecAggError SECAGG_QUORUM_NOT_MET if |U3| < t
   */
  closeMaskedInput(): UnmaskRequest {
    this.expectPhase('collect', 'closeMaskedInput');
    this.u3 = this.inParticipantOrder(this.masked.keys());
    this.checkQuorum(this.u3.length, 'MaskedInputCollection');
    this.droppedAfterShare = this.u2.filter((id) => !this.masked.has(id));
    this.phaseValue = 'unmask';
    return { roundId: this.config.roundId, survivorIds: [...this.u3], droppedIds: [...this.droppedAfterShare] };
  }

  /** Round 3 input. @throws SecAggError unless the sender is in U3 and sent exactly the shares requested */
  receiveUnmaskResponse(message: UnmaskResponse): void {
    this.expectPhase('unmask', 'receiveUnmaskResponse');
    this.participant(message.clientId, message.roundId);
    if (!this.u3.includes(message.clientId)) this.malformed(`'${message.clientId}' answered the unmask request but is not in U3`, message.clientId);
    if (this.unmaskResponses.has(message.clientId)) this.malformed(`duplicate unmask response from '${message.clientId}'`, message.clientId);
    this.checkShareList(message.clientId, 'selfMaskShares', message.selfMaskShares, this.u3);
    this.checkShareList(message.clientId, 'agreementKeyShares', message.agreementKeyShares, this.droppedAfterShare);
    this.unmaskResponses.set(message.clientId, message);
  }

  /**
   * Closes Unmasking: reconstructs the needed secrets from t responders and removes every mask.
   * @throws SecAggError SECAGG_QUORUM_NOT_MET if fewer than t clients answered; SECAGG_DECRYPTION_FAILED if the
   *   shares do not reconstruct a usable secret
   */
  finish(): SecAggResult {
    this.expectPhase('unmask', 'finish');
    const responders = this.inParticipantOrder(this.unmaskResponses.keys());
    this.checkQuorum(responders.length, 'Unmasking');
    const { roundId, vectorLength, threshold } = this.config;
    const chosen = responders.slice(0, threshold);
    const reconstructor = createShamirReconstructor(chosen.map((id) => this.config.indexOf.get(id)!));
    const lookups = chosen.map((id) => {
      const r = this.unmaskResponses.get(id)!;
      return { self: new Map(r.selfMaskShares.map((s) => [s.ownerId, s.share])), key: new Map(r.agreementKeyShares.map((s) => [s.ownerId, s.share])) };
    });
    const reconstruct = (ownerId: string, kind: 'self' | 'key', length: number): Uint8Array => {
      try {
        return reconstructor.combine(lookups.map((l) => l[kind].get(ownerId)!), length);
      } catch (cause) {
        this.phaseValue = 'failed';
        throw new SecAggError('SECAGG_DECRYPTION_FAILED', `the shares of '${ownerId}' do not reconstruct a secret`, { clientId: ownerId }, cause);
      }
    };

    const sum = new Uint32Array(vectorLength);
    for (const id of this.u3) {
      ringAddInPlaceCarry(sum, this.masked.get(id)!, this.config.carry);
      ringSubInPlaceCarry(sum, expandMask(this.crypto.prg, reconstruct(id, 'self', SEED_BYTES), vectorLength, roundId), this.config.carry);
    }
    for (const droppedId of this.droppedAfterShare) {
      const secret = reconstruct(droppedId, 'key', X25519_KEY_BYTES);
      const droppedIndex = this.config.indexOf.get(droppedId)!;
      for (const survivorId of this.u3) {
        const survivorIndex = this.config.indexOf.get(survivorId)!;
        const [low, high] = droppedIndex < survivorIndex ? [droppedId, survivorId] : [survivorId, droppedId];
        const seed = pairwiseSeed(this.crypto, secret, this.advertised.get(survivorId)!.agreementPublicKey, roundId, low, high);
        const mask = expandMask(this.crypto.prg, seed, vectorLength, roundId);
        // The survivor added the mask if the dropped client comes first, and subtracted it otherwise: undo that.
        if (droppedIndex < survivorIndex) ringSubInPlaceCarry(sum, mask, this.config.carry);
        else ringAddInPlaceCarry(sum, mask, this.config.carry);
      }
      secret.fill(0);
    }
    this.phaseValue = 'done';
    const contributors = new Set(this.u3);
    this.masked.clear();
    this.unmaskResponses.clear();
    return {
      roundId,
      sum,
      contributorIds: [...this.u3],
      droppedIds: this.config.participants.map((p) => p.id).filter((id) => !contributors.has(id)),
    };
  }

  private checkShareList(clientId: string, field: string, shares: readonly ShareForOwner[], expected: readonly string[]): void {
    if (!Array.isArray(shares) || shares.length !== expected.length) {
      this.malformed(`unmask response from '${clientId}' must hold ${expected.length} ${field}`, clientId);
    }
    const seen = new Set<string>();
    for (const s of shares) {
      if (!expected.includes(s.ownerId) || seen.has(s.ownerId) || !(s.share instanceof Uint8Array) || s.share.length !== SHAMIR_SHARE_BYTES) {
        this.malformed(`unmask response from '${clientId}' has a bad entry in ${field}`, clientId);
      }
      seen.add(s.ownerId);
    }
  }

  private participant(clientId: string, roundId: string) {
    if (roundId !== this.config.roundId) this.malformed(`message for round '${roundId}', expected '${this.config.roundId}'`, clientId);
    const index = this.config.indexOf.get(clientId);
    if (index === undefined) this.malformed(`message from unknown client '${clientId}'`, clientId);
    return this.config.participants[index - 1]!;
  }

  private inParticipantOrder(ids: Iterable<string>): string[] {
    return [...ids].sort((a, b) => this.config.indexOf.get(a)! - this.config.indexOf.get(b)!);
  }

  private malformed(message: string, clientId: string): never {
    throw new SecAggError('SECAGG_MALFORMED_MESSAGE', message, { clientId });
  }

  private expectPhase(expected: SecAggServerPhase, method: string): void {
    if (this.phaseValue !== expected) {
      throw new SecAggError('SECAGG_INVALID_STATE', `${method} needs phase '${expected}', server is in '${this.phaseValue}'`);
    }
  }

  private checkQuorum(count: number, step: string): void {
    if (count < this.config.threshold) {
      this.phaseValue = 'failed';
      throw new SecAggError('SECAGG_QUORUM_NOT_MET', `only ${count} clients survived ${step}, below the threshold ${this.config.threshold}`, {
        step,
        count,
        threshold: this.config.threshold,
      });
    }
  }
}
