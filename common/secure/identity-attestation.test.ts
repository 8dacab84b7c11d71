import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDevCertificates } from '../../client/tools/certs.js';
import { createIdentityKeyPair } from '../crypto/index.js';
import { createAttestation, verifyAttestation } from './identity-attestation.js';

describe('identity keys vouched for by mTLS certificates', () => {
  let dir: string;
  let rogue: string;
  const read = (d: string, f: string): Buffer => readFileSync(join(d, f));
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fedmesh-att-'));
    rogue = mkdtempSync(join(tmpdir(), 'fedmesh-att-rogue-'));
    await makeDevCertificates({ outDir: dir, agents: ['a1', 'a2'] });
    await makeDevCertificates({ outDir: rogue, agents: ['a1'] });
    execFileSync('openssl', ['version']);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(rogue, { recursive: true, force: true });
  });

  it('a peer pins a key signed by the certificate issued to that participant by the mesh CA', () => {
    const id = createIdentityKeyPair();
    const att = createAttestation('a1', id.publicKey, { cert: read(dir, 'agent-a1.crt'), key: read(dir, 'agent-a1.key') });
    expect([...verifyAttestation('a1', att, read(dir, 'ca.crt'))]).toEqual([...id.publicKey]);
  });

  it('refuses a substituted key, a key re-signed by another agent, a wrong participant and a rogue CA', () => {
    const id = createIdentityKeyPair();
    const a1 = { cert: read(dir, 'agent-a1.crt'), key: read(dir, 'agent-a1.key') };
    const att = createAttestation('a1', id.publicKey, a1);
    const ca = read(dir, 'ca.crt');
    expect(() => verifyAttestation('a1', { ...att, identityPublicKey: createIdentityKeyPair().publicKey }, ca)).toThrow(/not signed by the agent's certificate key/);
    const resigned = createAttestation('a1', id.publicKey, { cert: read(dir, 'agent-a2.crt'), key: read(dir, 'agent-a2.key') });
    expect(() => verifyAttestation('a1', resigned, ca)).toThrow(/issued to 'a2', not to 'a1'/);
    expect(() => verifyAttestation('a2', att, ca)).toThrow(/issued to 'a1', not to 'a2'/);
    const fromRogue = createAttestation('a1', id.publicKey, { cert: read(rogue, 'agent-a1.crt'), key: read(rogue, 'agent-a1.key') });
    expect(() => verifyAttestation('a1', fromRogue, ca)).toThrow(/does not chain to the mesh CA/);
    const researcher = createAttestation('researcher', id.publicKey, { cert: read(dir, 'researcher-researcher.crt'), key: read(dir, 'researcher-researcher.key') });
    expect(() => verifyAttestation('researcher', researcher, ca)).toThrow(/not an agent certificate/);
  });
});
