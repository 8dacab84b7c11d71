/**
 * Issue 15: the compiled job's hash is part of a secure sum's run id, so agents handed different specs for one job
 * (e.g. different linkage salts or ε) by a malicious coordinator cannot finish one secure sum together. The run id is
 * signed into every advertisement and enters every key derivation and mask (algorithms/secagg/derive.ts), so the
 * round fails closed. Control: the same spec at every agent gives the exact plain sum.
 */
import { describe, expect, it } from 'vitest';
import { createIdentityKeyPair, createNodeSecAggCrypto } from '../crypto/index.js';
import { SecAggClient } from '../../algorithms/secagg/client.js';
import { ringSum } from '../../algorithms/secagg/ring.js';
import { isSecAggError } from '../../algorithms/secagg/errors.js';
import { SecAggServer } from '../../algorithms/secagg/server.js';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { specSha256 } from '../job/index.js';
import { secAggRunId } from './secure-sum.js';

const crypto = createNodeSecAggCrypto();
const ids = ['site-a', 'site-b', 'site-c'];
const identities = ids.map(() => createIdentityKeyPair());
const participants = ids.map((id, i) => ({ id, identityPublicKey: identities[i]!.publicKey }));
const inputs = ids.map((_, i) => Uint32Array.from([10 + i, 1000 * (i + 1), 7]));

/** One secagg round where agent i builds its run id from `hashes[i]` and the coordinator's server from `hashes[0]`. */
function round(hashes: readonly string[]): Uint32Array {
  const config = (hash: string) => ({ roundId: secAggRunId('job-1', 1, hash), threshold: 2, vectorLength: 3, participants });
  const server = new SecAggServer({ config: config(hashes[0]!), crypto });
  const clients = ids.map((id, i) => new SecAggClient({ config: config(hashes[i]!), clientId: id, identityPrivateKey: identities[i]!.privateKey, crypto, rng: createSeededRng(`run-id/${id}`) }));
  for (const c of clients) server.receiveAdvertisement(c.advertiseKeys());
  const broadcast = server.closeAdvertiseKeys();
  for (const c of clients) server.receiveShareKeys(c.shareKeys(broadcast));
  const relays = server.closeShareKeys();
  clients.forEach((c, i) => server.receiveMaskedInput(c.maskInput(relays.find((r) => r.recipientId === c.clientId)!, inputs[i]!)));
  const request = server.closeMaskedInput();
  for (const c of clients) server.receiveUnmaskResponse(c.unmask(request));
  return server.finish().sum;
}

describe('secure sum run id binds the compiled spec hash', () => {
  const specA = specSha256({ kind: 'glm', privacy: { linkage: { sites: ids, salt: '00112233445566778899aabbccddeeff' } } });
  const specB = specSha256({ kind: 'glm', privacy: { linkage: { sites: ids, salt: 'ffeeddccbbaa99887766554433221100' } } });

  it('control: the same spec at every agent gives the exact plain sum', () => {
    expect([...round([specA, specA, specA])]).toEqual([...ringSum(inputs)]);
  });

  it('one agent given another salt: the round fails closed (no sum)', () => {
    expect(specA).not.toBe(specB);
    let err: unknown;
    try {
      round([specA, specA, specB]);
    } catch (e) {
      err = e;
    }
    expect(isSecAggError(err), String(err)).toBe(true);
    expect(String(err)).toMatch(/round/i);
  });

  it('the run id differs between the two specs and names job and round', () => {
    expect(secAggRunId('job-1', 1, specA)).not.toBe(secAggRunId('job-1', 1, specB));
    expect(secAggRunId('job-1', 1, specA)).toBe(`job-1/kind-round-1/spec-${specA}`);
  });
});
