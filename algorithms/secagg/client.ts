/**
 * The agent's side of SecAgg (Bonawitz et al. 2017, honest-but-curious structure with signed keys) as a state
 * machine without I/O: each method consumes the server's message for one round and returns the reply.
 *
 * Any refusal moves the client to `aborted` for good: once the server has misbehaved, the client answers nothing
 * more in this round. The client never reveals both a self-mask share and an agreement-key share of one peer,
 * and answers at most one unmask request.
 */
import type { Rng } from '../rng.js';
import { compileSecAggRoundConfig, type CompiledSecAggRoundConfig } from './config.js';
import type { SecAggCrypto, X25519KeyPair } from './crypto.js';
import { advertisementPayload, pairwiseSeed, SEED_BYTES, shareAssociatedData, shareEncryptionKey } from './derive.js';
import { SecAggError } from './errors.js';
import { expandMask } from './mask.js';
import type {
  AdvertiseKeysMessage,
  AdvertisedKeysBroadcast,
  EncryptedShareOut,
  MaskedInputMessage,
  SecAggRoundConfig,
  ShareForOwner,
  ShareKeysMessage,
  ShareKeysRelay,
  UnmaskRequest,
  UnmaskResponse,
} from './messages.js';
import { ringAddInPlaceCarry, ringSubInPlaceCarry, ringToBytes } from './ring.js';
import { SHAMIR_SHARE_BYTES, shamirSplit } from './shamir.js';

export type SecAggClientPhase = 'init' | 'advertised' | 'shared' | 'masked' | 'done' | 'aborted';

export interface SecAggClientOptions {
  config: SecAggRoundConfig;
  /** This agent's id; must be one of `config.participants`. */
  clientId: string;
  /** This agent's long-term Ed25519 private key (32 raw bytes), matching its pinned identity public key. */
  identityPrivateKey: Uint8Array;
  crypto: SecAggCrypto;
  /** Source of the self-mask seed and the Shamir coefficients; a CSPRNG outside tests. */
  rng: Rng;
}

interface PeerKeys {
  readonly agreementPublicKey: Uint8Array;
  readonly encryptionPublicKey: Uint8Array;
}

interface HeldShares {
  readonly selfMask: Uint8Array;
  readonly agreementKey: Uint8Array;
}

const SHARE_PLAINTEXT_BYTES = 2 * SHAMIR_SHARE_BYTES;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class SecAggClient {
  readonly clientId: string;
  private readonly config: CompiledSecAggRoundConfig;
  private readonly myIndex: number;
  private readonly identityPrivateKey: Uint8Array;
  private readonly crypto: SecAggCrypto;
  private readonly rng: Rng;
  private phaseValue: SecAggClientPhase = 'init';

  private agreementKeys: X25519KeyPair | undefined;
  private encryptionKeys: X25519KeyPair | undefined;
  private selfMaskSeed: Uint8Array | undefined;
  /** U1 as this client saw it: verified keys of every advertised peer (excluding itself). */
  private peers = new Map<string, PeerKeys>();
  /** Shares this client holds, by owner (U2 as this client saw it, including itself). */
  private held = new Map<string, HeldShares>();

  /** @throws RangeError/TypeError for a bad config, an unknown clientId, or a malformed identity key */
  constructor(options: SecAggClientOptions) {
    this.config = compileSecAggRoundConfig(options.config);
    const index = this.config.indexOf.get(options.clientId);
    if (index === undefined) throw new RangeError(`options.clientId '${options.clientId}' is not among config.participants`);
    if (!(options.identityPrivateKey instanceof Uint8Array) || options.identityPrivateKey.length !== 32) {
      throw new TypeError('options.identityPrivateKey must be 32 raw bytes');
    }
    this.clientId = options.clientId;
    this.myIndex = index;
    this.identityPrivateKey = Uint8Array.from(options.identityPrivateKey);
    this.crypto = options.crypto;
    this.rng = options.rng;
  }

  get phase(): SecAggClientPhase {
    return this.phaseValue;
  }

  /** Round 0: make this round's two key pairs and sign their public keys. */
  advertiseKeys(): AdvertiseKeysMessage {
    this.expectPhase('init', 'advertiseKeys');
    this.agreementKeys = this.crypto.x25519GenerateKeyPair();
    this.encryptionKeys = this.crypto.x25519GenerateKeyPair();
    const unsigned = {
      roundId: this.config.roundId,
      clientId: this.clientId,
      agreementPublicKey: Uint8Array.from(this.agreementKeys.publicKey),
      encryptionPublicKey: Uint8Array.from(this.encryptionKeys.publicKey),
    };
    const signature = this.crypto.ed25519Sign(this.identityPrivateKey, advertisementPayload(unsigned));
    this.phaseValue = 'advertised';
    return { ...unsigned, signature };
  }

  /**
   * Round 1: verify every advertised key against the pinned identity keys, then Shamir-share b_u and s_u^SK
   * t-of-n and encrypt each peer's pair of shares to it.
   * @throws SecAggError SECAGG_BAD_SIGNATURE, SECAGG_QUORUM_NOT_MET, SECAGG_PROTOCOL_VIOLATION or SECAGG_MALFORMED_MESSAGE
   */
  shareKeys(broadcast: AdvertisedKeysBroadcast): ShareKeysMessage {
    this.expectPhase('advertised', 'shareKeys');
    return this.guard(() => {
      this.checkRound(broadcast.roundId);
      let sawSelf = false;
      for (const ad of broadcast.advertisements) {
        this.checkRound(ad.roundId);
        const pinned = this.config.participants[(this.config.indexOf.get(ad.clientId) ?? 0) - 1];
        if (pinned === undefined) throw new SecAggError('SECAGG_MALFORMED_MESSAGE', `advertisement from unknown client '${ad.clientId}'`, { clientId: ad.clientId });
        if (ad.clientId === this.clientId) {
          // Our own entry must be exactly what we sent.
          if (!sameBytes(ad.agreementPublicKey, this.agreementKeys!.publicKey) || !sameBytes(ad.encryptionPublicKey, this.encryptionKeys!.publicKey)) {
            throw new SecAggError('SECAGG_PROTOCOL_VIOLATION', 'the broadcast altered this client\'s own public keys', { clientId: ad.clientId });
          }
          sawSelf = true;
          continue;
        }
        if (this.peers.has(ad.clientId)) throw new SecAggError('SECAGG_MALFORMED_MESSAGE', `client '${ad.clientId}' is advertised twice`, { clientId: ad.clientId });
        if (ad.agreementPublicKey.length !== 32 || ad.encryptionPublicKey.length !== 32) {
          throw new SecAggError('SECAGG_MALFORMED_MESSAGE', `client '${ad.clientId}' advertised keys of the wrong size`, { clientId: ad.clientId });
        }
        if (
          !(ad.signature instanceof Uint8Array) ||
          !this.crypto.ed25519Verify(pinned.identityPublicKey, advertisementPayload(ad), ad.signature)
        ) {
          throw new SecAggError('SECAGG_BAD_SIGNATURE', `the keys advertised for '${ad.clientId}' are not signed by its pinned identity key`, { clientId: ad.clientId });
        }
        if (sameBytes(ad.agreementPublicKey, ad.encryptionPublicKey)) {
          throw new SecAggError('SECAGG_PROTOCOL_VIOLATION', `client '${ad.clientId}' advertised the same key twice`, { clientId: ad.clientId });
        }
        this.peers.set(ad.clientId, { agreementPublicKey: Uint8Array.from(ad.agreementPublicKey), encryptionPublicKey: Uint8Array.from(ad.encryptionPublicKey) });
      }
      if (!sawSelf) throw new SecAggError('SECAGG_PROTOCOL_VIOLATION', 'the broadcast does not contain this client\'s own keys');
      this.checkQuorum(this.peers.size + 1, 'AdvertiseKeys');

      const n = this.config.participants.length;
      const t = this.config.threshold;
      this.selfMaskSeed = this.rng.fill(new Uint8Array(SEED_BYTES));
      const bShares = shamirSplit(this.selfMaskSeed, t, n, this.rng);
      const sShares = shamirSplit(this.agreementKeys!.privateKey, t, n, this.rng);
      const shareFor = (id: string): HeldShares => {
        const i = this.config.indexOf.get(id)! - 1;
        return { selfMask: bShares[i]!.value, agreementKey: sShares[i]!.value };
      };
      this.held.set(this.clientId, shareFor(this.clientId));

      const encryptedShares: EncryptedShareOut[] = [];
      for (const [peerId, keys] of this.peers) {
        const shares = shareFor(peerId);
        const plaintext = new Uint8Array(SHARE_PLAINTEXT_BYTES);
        plaintext.set(shares.selfMask, 0);
        plaintext.set(shares.agreementKey, SHAMIR_SHARE_BYTES);
        const key = shareEncryptionKey(this.crypto, this.encryptionKeys!.privateKey, keys.encryptionPublicKey, this.config.roundId, this.clientId, peerId);
        const ciphertext = this.crypto.aeadEncrypt(key, plaintext, shareAssociatedData(this.config.roundId, this.clientId, peerId));
        encryptedShares.push({ recipientId: peerId, ciphertext });
      }
      this.phaseValue = 'shared';
      return { roundId: this.config.roundId, clientId: this.clientId, encryptedShares };
    });
  }

  /**
   * Round 2: decrypt the shares relayed to this client (their senders form U2) and mask the input:
   * y = x + PRG(b_u) + Σ_{v ∈ U2, v < u} PRG(s_uv) − Σ_{v ∈ U2, v > u} PRG(s_uv).
   * @throws TypeError/RangeError for a bad input; SecAggError for a bad relay or too few peers
   */
  maskInput(relay: ShareKeysRelay, input: Uint32Array): MaskedInputMessage {
    this.expectPhase('shared', 'maskInput');
    if (!(input instanceof Uint32Array)) throw new TypeError('maskInput: input must be a Uint32Array (encode reals with encodeFixedPoint)');
    if (input.length !== this.config.vectorLength) {
      throw new RangeError(`maskInput: input.length must equal config.vectorLength (${this.config.vectorLength}), got ${input.length}`);
    }
    return this.guard(() => {
      this.checkRound(relay.roundId);
      if (relay.recipientId !== this.clientId) throw new SecAggError('SECAGG_MALFORMED_MESSAGE', `relay addressed to '${relay.recipientId}', not to this client`);
      for (const { senderId, ciphertext } of relay.encryptedShares) {
        const peer = this.peers.get(senderId);
        if (peer === undefined) throw new SecAggError('SECAGG_PROTOCOL_VIOLATION', `relayed shares from '${senderId}', which was not in the advertised set`, { clientId: senderId });
        if (this.held.has(senderId)) throw new SecAggError('SECAGG_MALFORMED_MESSAGE', `shares from '${senderId}' relayed twice`, { clientId: senderId });
        const key = shareEncryptionKey(this.crypto, this.encryptionKeys!.privateKey, peer.encryptionPublicKey, this.config.roundId, senderId, this.clientId);
        let plaintext: Uint8Array;
        try {
          plaintext = this.crypto.aeadDecrypt(key, ciphertext, shareAssociatedData(this.config.roundId, senderId, this.clientId));
        } catch (cause) {
          throw new SecAggError('SECAGG_DECRYPTION_FAILED', `the shares from '${senderId}' failed authentication`, { clientId: senderId }, cause);
        }
        if (plaintext.length !== SHARE_PLAINTEXT_BYTES) throw new SecAggError('SECAGG_MALFORMED_MESSAGE', `the shares from '${senderId}' have the wrong size`, { clientId: senderId });
        this.held.set(senderId, { selfMask: plaintext.slice(0, SHAMIR_SHARE_BYTES), agreementKey: plaintext.slice(SHAMIR_SHARE_BYTES) });
      }
      this.checkQuorum(this.held.size, 'ShareKeys');

      const { roundId, vectorLength } = this.config;
      const y = Uint32Array.from(input);
      ringAddInPlaceCarry(y, expandMask(this.crypto.prg, this.selfMaskSeed!, vectorLength, roundId), this.config.carry);
      for (const peerId of this.held.keys()) {
        if (peerId === this.clientId) continue;
        const peerIndex = this.config.indexOf.get(peerId)!;
        const [low, high] = peerIndex < this.myIndex ? [peerId, this.clientId] : [this.clientId, peerId];
        const seed = pairwiseSeed(this.crypto, this.agreementKeys!.privateKey, this.peers.get(peerId)!.agreementPublicKey, roundId, low, high);
        const mask = expandMask(this.crypto.prg, seed, vectorLength, roundId);
        if (peerIndex < this.myIndex) ringAddInPlaceCarry(y, mask, this.config.carry);
        else ringSubInPlaceCarry(y, mask, this.config.carry);
      }
      this.phaseValue = 'masked';
      return { roundId, clientId: this.clientId, maskedInput: ringToBytes(y) };
    });
  }

  /**
   * Round 3: reveal self-mask shares of the survivors and agreement-key shares of the dropped — after checking
   * that the two sets are disjoint, that together they are exactly U2 as this client saw it, that this client is
   * a survivor, and that at least t survived. Answers once; any second request is refused.
   * @throws SecAggError SECAGG_PROTOCOL_VIOLATION (refusal), SECAGG_QUORUM_NOT_MET or SECAGG_INVALID_STATE
   */
  unmask(request: UnmaskRequest): UnmaskResponse {
    this.expectPhase('masked', 'unmask');
    return this.guard(() => {
      this.checkRound(request.roundId);
      const survivors = new Set<string>();
      for (const id of request.survivorIds) {
        if (survivors.has(id)) throw new SecAggError('SECAGG_MALFORMED_MESSAGE', `survivor '${id}' is listed twice`, { clientId: id });
        survivors.add(id);
      }
      const dropped = new Set<string>();
      for (const id of request.droppedIds) {
        if (survivors.has(id)) {
          throw new SecAggError(
            'SECAGG_PROTOCOL_VIOLATION',
            `refused: the server asked for both the self-mask share and the agreement-key share of '${id}' (listed as survived and dropped)`,
            { clientId: id },
          );
        }
        if (dropped.has(id)) throw new SecAggError('SECAGG_MALFORMED_MESSAGE', `dropped client '${id}' is listed twice`, { clientId: id });
        dropped.add(id);
      }
      for (const id of [...survivors, ...dropped]) {
        if (!this.held.has(id)) {
          throw new SecAggError('SECAGG_PROTOCOL_VIOLATION', `refused: the server asked for shares of '${id}', which did not share keys with this client`, { clientId: id });
        }
      }
      for (const id of this.held.keys()) {
        if (!survivors.has(id) && !dropped.has(id)) {
          throw new SecAggError('SECAGG_PROTOCOL_VIOLATION', `refused: the request does not say whether '${id}' survived or dropped`, { clientId: id });
        }
      }
      if (!survivors.has(this.clientId)) throw new SecAggError('SECAGG_PROTOCOL_VIOLATION', 'refused: this client is not listed as a survivor');
      this.checkQuorum(survivors.size, 'MaskedInputCollection');

      const selfMaskShares: ShareForOwner[] = [];
      const agreementKeyShares: ShareForOwner[] = [];
      for (const id of survivors) selfMaskShares.push({ ownerId: id, share: Uint8Array.from(this.held.get(id)!.selfMask) });
      for (const id of dropped) agreementKeyShares.push({ ownerId: id, share: Uint8Array.from(this.held.get(id)!.agreementKey) });
      this.forgetSecrets();
      this.phaseValue = 'done';
      return { roundId: this.config.roundId, clientId: this.clientId, selfMaskShares, agreementKeyShares };
    });
  }

  /** Drops all round secrets (e.g. when the transport abandons the round). */
  abort(): void {
    this.forgetSecrets();
    this.phaseValue = 'aborted';
  }

  private forgetSecrets(): void {
    this.selfMaskSeed?.fill(0);
    this.agreementKeys?.privateKey.fill(0);
    this.encryptionKeys?.privateKey.fill(0);
    for (const h of this.held.values()) {
      h.selfMask.fill(0);
      h.agreementKey.fill(0);
    }
    this.held.clear();
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  private expectPhase(expected: SecAggClientPhase, method: string): void {
    if (this.phaseValue !== expected) {
      const why = this.phaseValue === 'done' && method === 'unmask' ? 'refused: this client has already answered an unmask request' : `${method} needs phase '${expected}', client is in '${this.phaseValue}'`;
      throw new SecAggError(this.phaseValue === 'done' && method === 'unmask' ? 'SECAGG_PROTOCOL_VIOLATION' : 'SECAGG_INVALID_STATE', why);
    }
  }

  private checkRound(roundId: string): void {
    if (roundId !== this.config.roundId) throw new SecAggError('SECAGG_MALFORMED_MESSAGE', `message for round '${roundId}', expected '${this.config.roundId}'`);
  }

  private checkQuorum(count: number, step: string): void {
    if (count < this.config.threshold) {
      throw new SecAggError('SECAGG_QUORUM_NOT_MET', `only ${count} clients remain after ${step}, below the threshold ${this.config.threshold}`, {
        step,
        count,
        threshold: this.config.threshold,
      });
    }
  }
}
