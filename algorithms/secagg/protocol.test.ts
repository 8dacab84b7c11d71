/**
 * End-to-end tests of the SecAgg state machines with the real Node crypto provider (tests may import from common/).
 * Inputs use the whole of Z_2^32 so that wrap-around is exercised; expected sums are computed in plain JS.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createIdentityKeyPair, createNodeSecAggCrypto, type IdentityKeyPair } from '../../common/crypto/index.js';
import { createSeededRng } from '../testing/seeded-rng.js';
import { SecAggClient } from './client.js';
import { minimumThreshold } from './config.js';
import { advertisementPayload } from './derive.js';
import { isSecAggError, type SecAggErrorCode } from './errors.js';
import { runSecAggRoundInMemory, type InMemoryAgent, type SecAggClientStep } from './in-memory.js';
import type { AdvertiseKeysMessage, AdvertisedKeysBroadcast, SecAggRoundConfig, UnmaskRequest } from './messages.js';
import { ringFromBytes, ringSum } from './ring.js';
import { SecAggServer } from './server.js';

const crypto = createNodeSecAggCrypto();

interface Fixture {
  config: SecAggRoundConfig;
  agents: InMemoryAgent[];
  identities: IdentityKeyPair[];
}

function makeFixture(n: number, threshold: number, vectorLength: number, seed: number | string, roundId = 'job-1/round-0'): Fixture {
  const rng = createSeededRng(seed);
  const identities = Array.from({ length: n }, () => createIdentityKeyPair());
  const ids = Array.from({ length: n }, (_, i) => `agent-${String(i).padStart(3, '0')}`);
  const agents = ids.map((id, i) => ({
    id,
    identityPrivateKey: identities[i]!.privateKey,
    input: Uint32Array.from({ length: vectorLength }, () => rng.nextUint32()),
    rng: createSeededRng(`${String(seed)}/${id}`),
  }));
  const config = { roundId, threshold, vectorLength, participants: ids.map((id, i) => ({ id, identityPublicKey: identities[i]!.publicKey })) };
  return { config, agents, identities };
}

function plainSum(f: Fixture, ids: readonly string[]): number[] {
  const inputs = f.agents.filter((a) => ids.includes(a.id)).map((a) => a.input);
  return [...ringSum(inputs)];
}

function expectSecAggError(fn: () => unknown, code: SecAggErrorCode, message?: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(isSecAggError(thrown), `expected a SecAggError ${code}, got ${String(thrown)}`).toBe(true);
  if (isSecAggError(thrown)) {
    expect(thrown.code).toBe(code);
    if (message !== undefined) expect(thrown.message).toMatch(message);
  }
}

/** Drives a round by hand up to the unmask request, so tests can play a malicious server. */
function runToUnmask(f: Fixture, dropAfterShare: readonly string[] = []) {
  const server = new SecAggServer({ config: f.config, crypto });
  const clients = f.agents.map((a) => new SecAggClient({ config: f.config, clientId: a.id, identityPrivateKey: a.identityPrivateKey, crypto, rng: a.rng }));
  for (const c of clients) server.receiveAdvertisement(c.advertiseKeys());
  const broadcast = server.closeAdvertiseKeys();
  for (const c of clients) server.receiveShareKeys(c.shareKeys(broadcast));
  const relays = server.closeShareKeys();
  clients.forEach((c, i) => {
    if (!dropAfterShare.includes(c.clientId)) server.receiveMaskedInput(c.maskInput(relays.find((r) => r.recipientId === c.clientId)!, f.agents[i]!.input));
  });
  const request = server.closeMaskedInput();
  return { server, clients, request };
}

describe('SecAgg: masks cancel', () => {
  it('with no dropouts the unmasked sum equals the plain sum bit for bit (3..20 agents, random sizes)', () => {
    const params = fc
      .integer({ min: 3, max: 20 })
      .chain((n) => fc.record({ n: fc.constant(n), t: fc.integer({ min: minimumThreshold(n), max: n }), len: fc.integer({ min: 1, max: 40 }), seed: fc.integer() }));
    fc.assert(
      fc.property(params, ({ n, t, len, seed }) => {
        const f = makeFixture(n, t, len, seed);
        const masked = new Map<string, Uint8Array>();
        const result = runSecAggRoundInMemory({
          config: f.config,
          crypto,
          agents: f.agents,
          around: (actor, step, fn) => {
            const out = fn();
            if (step === 'maskInput') masked.set(actor, (out as { maskedInput: Uint8Array }).maskedInput);
            return out;
          },
        });
        expect(result.contributorIds).toEqual(f.agents.map((a) => a.id));
        expect(result.droppedIds).toEqual([]);
        expect([...result.sum]).toEqual(plainSum(f, result.contributorIds));
        // Each masked vector differs from its input (a mask was applied): with len ≥ 2 a collision has prob ≤ 2^-64.
        if (len >= 2) for (const a of f.agents) expect([...ringFromBytes(masked.get(a.id)!)]).not.toEqual([...a.input]);
      }),
      { numRuns: 12 },
    );
  });
});

describe('SecAgg: dropouts', () => {
  const steps: SecAggClientStep[] = ['advertiseKeys', 'shareKeys', 'maskInput', 'unmask'];
  const n = 7;
  const t = 4;

  // `dropBefore.unmask` = dropped after MaskedInput (before Unmasking); `loseMessage.unmask` = during Unmasking.
  const cases: { name: string; step: SecAggClientStep; mode: 'dropBefore' | 'loseMessage'; inputCounted: boolean }[] = [
    { name: 'before AdvertiseKeys', step: 'advertiseKeys', mode: 'dropBefore', inputCounted: false },
    { name: 'after AdvertiseKeys', step: 'shareKeys', mode: 'dropBefore', inputCounted: false },
    { name: 'after ShareKeys', step: 'maskInput', mode: 'dropBefore', inputCounted: false },
    { name: 'after MaskedInput (before Unmasking)', step: 'unmask', mode: 'dropBefore', inputCounted: true },
    { name: 'during Unmasking', step: 'unmask', mode: 'loseMessage', inputCounted: true },
  ];

  for (const c of cases) {
    it(`${n - t} agents dropping ${c.name} still give the exact sum; ${n - t + 1} fail with SECAGG_QUORUM_NOT_MET`, () => {
      const f = makeFixture(n, t, 33, `drop/${c.name}`);
      const victims = [f.agents[0]!.id, f.agents[3]!.id, f.agents[6]!.id];
      const result = runSecAggRoundInMemory({ config: f.config, crypto, agents: f.agents, [c.mode]: { [c.step]: victims } });
      const expected = c.inputCounted ? f.agents.map((a) => a.id) : f.agents.map((a) => a.id).filter((id) => !victims.includes(id));
      expect(result.contributorIds).toEqual(expected);
      expect([...result.sum]).toEqual(plainSum(f, expected));

      const g = makeFixture(n, t, 33, `drop+1/${c.name}`);
      const tooMany = [g.agents[0]!.id, g.agents[2]!.id, g.agents[4]!.id, g.agents[6]!.id];
      expectSecAggError(() => runSecAggRoundInMemory({ config: g.config, crypto, agents: g.agents, [c.mode]: { [c.step]: tooMany } }), 'SECAGG_QUORUM_NOT_MET', /below the threshold 4/);
    });
  }

  it('any mix of up to n − t dropouts across the steps gives the exact sum over the right agents', () => {
    const plan = fc.record({
      n: fc.integer({ min: 3, max: 9 }),
      seed: fc.integer(),
      assign: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 9, maxLength: 9 }),
      order: fc.shuffledSubarray([0, 1, 2, 3, 4, 5, 6, 7, 8], { minLength: 9, maxLength: 9 }),
    });
    fc.assert(
      fc.property(plan, ({ n, seed, assign, order }) => {
        const threshold = minimumThreshold(n);
        const f = makeFixture(n, threshold, 9, seed);
        const dropCount = n - threshold;
        const dropBefore: Partial<Record<SecAggClientStep, string[]>> = {};
        const loseMessage: Partial<Record<SecAggClientStep, string[]>> = {};
        const victims = order.filter((i) => i < n).slice(0, dropCount);
        const notCounted = new Set<string>();
        for (const i of victims) {
          const where = assign[i]!; // 0..3: dropBefore steps[where]; 4: message lost during Unmasking
          const id = f.agents[i]!.id;
          if (where < 4) (dropBefore[steps[where]!] ??= []).push(id);
          else (loseMessage.unmask ??= []).push(id);
          if (where < 3) notCounted.add(id);
        }
        const result = runSecAggRoundInMemory({ config: f.config, crypto, agents: f.agents, dropBefore, loseMessage });
        const expected = f.agents.map((a) => a.id).filter((id) => !notCounted.has(id));
        expect(result.contributorIds).toEqual(expected);
        expect([...result.sum]).toEqual(plainSum(f, expected));
      }),
      { numRuns: 15 },
    );
  });

  it('clients themselves refuse to go on below the threshold', () => {
    const f = makeFixture(5, 3, 4, 'client-quorum');
    const clients = f.agents.map((a) => new SecAggClient({ config: f.config, clientId: a.id, identityPrivateKey: a.identityPrivateKey, crypto, rng: a.rng }));
    const ads = clients.map((c) => c.advertiseKeys());
    // A server that forwards only two advertisements (below t = 3).
    expectSecAggError(() => clients[0]!.shareKeys({ roundId: f.config.roundId, advertisements: ads.slice(0, 2) }), 'SECAGG_QUORUM_NOT_MET');
    expect(clients[0]!.phase).toBe('aborted');
  });
});

describe('SecAgg: a curious server asking for both shares is refused', () => {
  const f = makeFixture(5, 3, 8, 'both-shares');

  it('refuses a request that lists one peer as both survived and dropped (self-mask share and key share)', () => {
    const { clients, request } = runToUnmask(f);
    const target = f.agents[1]!.id;
    const evil: UnmaskRequest = { ...request, droppedIds: [target] };
    expect(evil.survivorIds).toContain(target);
    expectSecAggError(() => clients[0]!.unmask(evil), 'SECAGG_PROTOCOL_VIOLATION', /both the self-mask share and the agreement-key share of 'agent-001'/);
    // Refusal is final: the honest request is not answered either.
    expect(() => clients[0]!.unmask(request)).toThrow(/aborted/);
  });

  it('refuses a second request that would reveal the other share of a peer', () => {
    const { clients, request } = runToUnmask(f);
    const target = f.agents[2]!.id;
    const first = clients[0]!.unmask(request);
    expect(first.selfMaskShares.map((s) => s.ownerId)).toContain(target);
    const second: UnmaskRequest = { ...request, survivorIds: request.survivorIds.filter((id) => id !== target), droppedIds: [target] };
    expectSecAggError(() => clients[0]!.unmask(second), 'SECAGG_PROTOCOL_VIOLATION', /already answered/);
  });

  it('refuses requests that omit a peer, name a stranger, or leave the client out', () => {
    const cases: ((r: UnmaskRequest) => UnmaskRequest)[] = [
      (r) => ({ ...r, survivorIds: r.survivorIds.slice(1) }),
      (r) => ({ ...r, droppedIds: ['mallory'] }),
      (r) => ({ ...r, survivorIds: r.survivorIds.filter((id) => id !== 'agent-000'), droppedIds: ['agent-000'] }),
    ];
    for (const tamper of cases) {
      const { clients, request } = runToUnmask(f);
      expectSecAggError(() => clients[0]!.unmask(tamper(request)), 'SECAGG_PROTOCOL_VIOLATION', /refused/);
    }
  });

  it('an honest request after dropouts reveals b-shares of survivors and s-shares of the dropped, never both', () => {
    const dropped = [f.agents[4]!.id];
    const { server, clients, request } = runToUnmask(f, dropped);
    expect(request.droppedIds).toEqual(dropped);
    for (const c of clients.filter((c) => !dropped.includes(c.clientId))) {
      const resp = c.unmask(request);
      const selfOwners = new Set(resp.selfMaskShares.map((s) => s.ownerId));
      for (const s of resp.agreementKeyShares) expect(selfOwners.has(s.ownerId)).toBe(false);
      server.receiveUnmaskResponse(resp);
    }
    const result = server.finish();
    expect([...result.sum]).toEqual(plainSum(f, result.contributorIds));
  });
});

describe('SecAgg: signed keys', () => {
  const f = makeFixture(4, 3, 4, 'signatures');

  function advertise() {
    const clients = f.agents.map((a) => new SecAggClient({ config: f.config, clientId: a.id, identityPrivateKey: a.identityPrivateKey, crypto, rng: a.rng }));
    const ads = clients.map((c) => c.advertiseKeys());
    return { clients, ads };
  }

  function broadcastWith(ads: AdvertiseKeysMessage[], index: number, replacement: AdvertiseKeysMessage): AdvertisedKeysBroadcast {
    return { roundId: f.config.roundId, advertisements: ads.map((a, i) => (i === index ? replacement : a)) };
  }

  it('accepts the honest broadcast', () => {
    const { clients, ads } = advertise();
    expect(() => clients[0]!.shareKeys({ roundId: f.config.roundId, advertisements: ads })).not.toThrow();
  });

  it('refuses an unsigned key', () => {
    const { clients, ads } = advertise();
    const unsigned = { ...ads[1]!, signature: new Uint8Array(0) };
    expectSecAggError(() => clients[0]!.shareKeys(broadcastWith(ads, 1, unsigned)), 'SECAGG_BAD_SIGNATURE', /agent-001/);
  });

  it('refuses keys signed by the wrong identity (another participant\'s or the server\'s)', () => {
    for (const signer of [f.identities[2]!, createIdentityKeyPair()]) {
      const { clients, ads } = advertise();
      const forged = { ...ads[1]!, signature: crypto.ed25519Sign(signer.privateKey, advertisementPayload(ads[1]!)) };
      expectSecAggError(() => clients[0]!.shareKeys(broadcastWith(ads, 1, forged)), 'SECAGG_BAD_SIGNATURE');
    }
  });

  it('refuses a substituted key, whether it keeps the old signature or is re-signed by the server', () => {
    const serverIdentity = createIdentityKeyPair();
    const mitm = crypto.x25519GenerateKeyPair();
    {
      const { clients, ads } = advertise();
      const swapped = { ...ads[1]!, agreementPublicKey: mitm.publicKey };
      expectSecAggError(() => clients[0]!.shareKeys(broadcastWith(ads, 1, swapped)), 'SECAGG_BAD_SIGNATURE');
    }
    {
      const { clients, ads } = advertise();
      const swapped = { ...ads[1]!, encryptionPublicKey: mitm.publicKey };
      const resigned = { ...swapped, signature: crypto.ed25519Sign(serverIdentity.privateKey, advertisementPayload(swapped)) };
      expectSecAggError(() => clients[0]!.shareKeys(broadcastWith(ads, 1, resigned)), 'SECAGG_BAD_SIGNATURE');
    }
  });

  it('refuses a valid advertisement relabelled as another client, or replayed from another round', () => {
    {
      const { clients, ads } = advertise();
      const relabelled = { ...ads[2]!, clientId: ads[1]!.clientId };
      expectSecAggError(() => clients[0]!.shareKeys(broadcastWith(ads, 1, relabelled)), 'SECAGG_BAD_SIGNATURE');
    }
    {
      const other = makeFixture(4, 3, 4, 'signatures', 'job-1/round-1');
      const oldClient = new SecAggClient({ config: { ...other.config, participants: f.config.participants }, clientId: f.agents[1]!.id, identityPrivateKey: f.agents[1]!.identityPrivateKey, crypto, rng: createSeededRng(1) });
      const oldAd = oldClient.advertiseKeys();
      const { clients, ads } = advertise();
      expectSecAggError(() => clients[0]!.shareKeys(broadcastWith(ads, 1, { ...oldAd, roundId: f.config.roundId })), 'SECAGG_BAD_SIGNATURE');
    }
  });

  it('refuses a broadcast that alters the client\'s own keys', () => {
    const { clients, ads } = advertise();
    const mine = { ...ads[0]!, agreementPublicKey: crypto.x25519GenerateKeyPair().publicKey };
    expectSecAggError(() => clients[0]!.shareKeys(broadcastWith(ads, 0, mine)), 'SECAGG_PROTOCOL_VIOLATION');
  });

  it('the server rejects an advertisement that is not signed by the pinned identity', () => {
    const { ads } = advertise();
    const server = new SecAggServer({ config: f.config, crypto });
    expectSecAggError(() => server.receiveAdvertisement({ ...ads[1]!, signature: new Uint8Array(64) }), 'SECAGG_BAD_SIGNATURE');
  });

  it('a tampered share ciphertext fails authentication at the recipient', () => {
    const { clients, ads } = advertise();
    const server = new SecAggServer({ config: f.config, crypto });
    ads.forEach((a) => server.receiveAdvertisement(a));
    const b = server.closeAdvertiseKeys();
    clients.forEach((c) => server.receiveShareKeys(c.shareKeys(b)));
    const relay = server.closeShareKeys()[0]!;
    const first = relay.encryptedShares[0]!;
    const flipped = Uint8Array.from(first.ciphertext);
    flipped[20]! ^= 1;
    const tampered = { ...relay, encryptedShares: [{ ...first, ciphertext: flipped }, ...relay.encryptedShares.slice(1)] };
    expectSecAggError(() => clients[0]!.maskInput(tampered, f.agents[0]!.input), 'SECAGG_DECRYPTION_FAILED');
  });
});

describe('SecAgg: configuration and state', () => {
  it('validates the config, naming the field', () => {
    const f = makeFixture(4, 3, 4, 'config');
    const server = (config: SecAggRoundConfig) => () => new SecAggServer({ config, crypto });
    expect(server({ ...f.config, threshold: 2 })).toThrow(/config.threshold/);
    expect(server({ ...f.config, threshold: 5 })).toThrow(/config.threshold/);
    expect(server({ ...f.config, participants: f.config.participants.slice(0, 2) })).toThrow(/config.participants/);
    expect(server({ ...f.config, vectorLength: 0 })).toThrow(/config.vectorLength/);
    expect(server({ ...f.config, roundId: '' })).toThrow(/config.roundId/);
    expect(server({ ...f.config, participants: [...f.config.participants.slice(0, 3), f.config.participants[0]!] })).toThrow(/repeated/);
    expect(() => new SecAggClient({ config: f.config, clientId: 'nobody', identityPrivateKey: f.identities[0]!.privateKey, crypto, rng: createSeededRng(1) })).toThrow(/clientId/);
  });

  it('rejects out-of-order calls and malformed messages', () => {
    const f = makeFixture(4, 3, 4, 'state');
    const server = new SecAggServer({ config: f.config, crypto });
    expectSecAggError(() => server.closeShareKeys(), 'SECAGG_INVALID_STATE');
    const client = new SecAggClient({ config: f.config, clientId: f.agents[0]!.id, identityPrivateKey: f.agents[0]!.identityPrivateKey, crypto, rng: f.agents[0]!.rng });
    const ad = client.advertiseKeys();
    expectSecAggError(() => client.advertiseKeys(), 'SECAGG_INVALID_STATE');
    server.receiveAdvertisement(ad);
    expectSecAggError(() => server.receiveAdvertisement(ad), 'SECAGG_MALFORMED_MESSAGE', /duplicate/);
    expectSecAggError(() => server.receiveAdvertisement({ ...ad, roundId: 'other' }), 'SECAGG_MALFORMED_MESSAGE');
    expect(server.pendingClientIds()).toEqual(f.agents.slice(1).map((a) => a.id));
  });
});

describe('SecAgg at scale', () => {
  it('100 agents, t = 51, 10 dropping after ShareKeys and 5 during Unmasking: exact sum', () => {
    const f = makeFixture(100, 51, 16, 'scale');
    const droppedAfterShare = f.agents.slice(0, 100).filter((_, i) => i % 10 === 3).map((a) => a.id);
    const lost = f.agents.filter((_, i) => i % 20 === 7).map((a) => a.id);
    const result = runSecAggRoundInMemory({ config: f.config, crypto, agents: f.agents, dropBefore: { maskInput: droppedAfterShare }, loseMessage: { unmask: lost } });
    const expected = f.agents.map((a) => a.id).filter((id) => !droppedAfterShare.includes(id));
    expect(result.contributorIds).toEqual(expected);
    expect([...result.sum]).toEqual(plainSum(f, expected));
  });
});
