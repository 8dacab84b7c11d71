/**
 * Red-team finding F2: the researcher's client must verify the agents' HE bindings against the spec IT submitted, not
 * the one the coordinator returns, and must refuse to decrypt without a mesh CA.
 *
 * The attack played here: a malicious coordinator stores and sends every agent a spec carrying ITS OWN HE public key.
 * Every agent encrypts for the coordinator and honestly signs `<job>/he/sha256(altered spec)`; the coordinator
 * decrypts each contribution, re-encrypts a sum under the researcher's real key and returns the altered spec. The
 * bindings match the returned spec, so a client checking against it decrypts. Control: the honest job (only the
 * admission-filled fields differ) verifies and decrypts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDevCertificates } from '../../tools/certs.js';
import { createIdentityKeyPair, type IdentityKeyPair } from '../../../common/crypto/index.js';
import { encryptVector, generateHeKeyPair } from '../../../common/he/index.js';
import { FedmeshError } from '../../../common/errors.js';
import type { JobSpec } from '../../../common/job/index.js';
import { parseJobSpec } from '../../../common/job/index.js';
import { attestationToJson, heRoundId, signHeBinding, createAttestation, type IdentityAttestation, DEFAULT_SECURE_MAX_ROWS } from '../../../common/secure/index.js';
import { CoordinatorClient } from '../transport/coordinator-client.js';
import type { AgentInfoView, JobView } from '../types.js';
import { finalizeHeJob, prepareHeJob, type PreparedHeJob } from './he-client.js';
import { expectedHeSpec, verifyHeJob } from './he-verify.js';

const SITES = ['a1', 'a2', 'a3'];
const JOB = { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }, { fn: 'sum', column: 'year_of_birth', bounds: [1900, 2030] }], privacy: { mode: 'none' }, secure: 'he' };

function agentView(name: string): AgentInfoView {
  const columns = [
    { name: 'person_id', type: 'BIGINT' },
    { name: 'year_of_birth', type: 'INTEGER' },
  ];
  return { name, domain: name, connected: true, connectedSinceMs: 0, lastHeartbeatMs: 0, version: 'test', products: [{ name: 'person', columns, privacyUnit: 'person_id', description: '', metadata: {} }] };
}

interface Agent {
  identity: IdentityKeyPair;
  attestation: IdentityAttestation;
}

describe('F2: the HE client verifies the bindings against the spec it submitted', () => {
  let dir: string;
  let ca: Buffer;
  let rogueCa: Buffer;
  const agents = new Map<string, Agent>();
  let prepared: PreparedHeJob;
  let attackerKey: Uint8Array;
  let sumUnderResearcherKey: Uint8Array;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fedmesh-he-verify-'));
    await makeDevCertificates({ outDir: join(dir, 'mesh'), agents: [...SITES, 'a4'] });
    await makeDevCertificates({ outDir: join(dir, 'rogue'), agents: ['a1'] });
    ca = readFileSync(join(dir, 'mesh', 'ca.crt'));
    rogueCa = readFileSync(join(dir, 'rogue', 'ca.crt'));
    for (const n of [...SITES, 'a4']) {
      const identity = createIdentityKeyPair();
      const tls = { cert: readFileSync(join(dir, 'mesh', `agent-${n}.crt`)), key: readFileSync(join(dir, 'mesh', `agent-${n}.key`)) };
      agents.set(n, { identity, attestation: createAttestation(n, identity.publicKey, tls) });
    }
    prepared = await prepareHeJob(JOB, SITES.map(agentView), { keyDir: join(dir, 'keys') });
    const plan = prepared.keyPair.plan;
    attackerKey = (await generateHeKeyPair(plan)).publicKey;
    // What the coordinator returns in both cases: a sum encrypted under the researcher's real key (here all zeros).
    const cts = await encryptVector(plan, prepared.keyPair.publicKey, new BigInt64Array(prepared.secure!.layout.vectorLength));
    sumUnderResearcherKey = new Uint8Array(cts.length * plan.ciphertextByteSize);
    cts.forEach((c, i) => sumUnderResearcherKey.set(c, i * plan.ciphertextByteSize));
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The spec admission stores for the honest job: the submission parsed, secureMaxRows filled (mode none). */
  const admitted = (): JobSpec => ({ ...parseJobSpec(prepared.spec), secureMaxRows: DEFAULT_SECURE_MAX_ROWS });

  /** A finished job whose stored spec is `spec`, with every named agent's binding honestly signed over THAT spec. */
  function finished(spec: unknown, signers: readonly string[] = SITES, contributors = signers.length): JobView {
    const jobId = 'job-f2';
    const roundId = heRoundId(jobId, spec);
    const bindings = signers.map((n) => {
      const a = agents.get(n)!;
      return { binding: signHeBinding(n, a.identity.privateKey, roundId, new Uint8Array([1, 2, 3])), attestation: attestationToJson(a.attestation) };
    });
    return {
      jobId,
      state: 'succeeded',
      kind: 'aggregate',
      researcher: 'researcher',
      createdAtMs: 0,
      finishedAtMs: 0,
      agents: { asked: [...SITES], answered: [...signers], missing: [] },
      result: { columns: [], rows: [], suppressed: [], privacy: { mode: 'none', secure: 'he', sealed: true }, summary: { he: { contributors, minCellSize: 1, roundId, bindings } }, notes: [], agentErrors: {} },
      error: undefined,
      spec: JSON.parse(JSON.stringify(spec)) as unknown,
      resultCiphertexts: sumUnderResearcherKey,
    };
  }

  it('control: the honest job (admission filled secureMaxRows) verifies and is decrypted', async () => {
    const out = await finalizeHeJob(finished(admitted()), prepared, ca);
    expect(out.result!.privacy.decryptedBy).toBe('researcher client');
    expect(out.result!.columns).toEqual(['count', 'sum_year_of_birth']);
  });

  it("refuses a spec carrying the coordinator's HE public key, though every agent signed over it", async () => {
    const altered = { ...admitted(), he: { ...admitted().he!, publicKey: Buffer.from(attackerKey).toString('base64') } };
    const job = finished(altered);
    // The attack's premise: the bindings do verify against the spec the coordinator returned.
    expect(() => expectedHeSpec(job.jobId, altered, altered)).not.toThrow();
    await expect(finalizeHeJob(job, prepared, ca)).rejects.toThrow(/he\.publicKey: the coordinator's spec carries another HE public key/);
  });

  it('refuses any other field the coordinator changed (the where filter, the plan), naming it', async () => {
    const where = { ...admitted(), measures: [{ fn: 'count' }] };
    await expect(finalizeHeJob(finished(where), prepared, ca)).rejects.toThrow(/measures: the coordinator's spec differs from the one this client submitted/);
    const plan = { ...admitted(), he: { ...admitted().he!, plan: { ...(admitted().he!.plan as object), maxAgents: 99 } } };
    await expect(finalizeHeJob(finished(plan as unknown as JobSpec), prepared, ca)).rejects.toThrow(/he\.plan/);
  });

  it('refuses the honest spec when its bindings were signed over another spec (a coordinator adding foreign contributions)', async () => {
    const job = { ...finished({ ...admitted(), timeoutMs: 1234 }), spec: admitted() };
    await expect(finalizeHeJob(job, prepared, ca)).rejects.toThrow(/spec hash mismatch: agent a1/);
  });

  it('refuses without a mesh CA, naming the option and how to supply it, before and after the job', async () => {
    await expect(finalizeHeJob(finished(admitted()), prepared, undefined)).rejects.toThrow(/meshCa is not set.*--tls-dir DIR.*meshCa:/s);
    // Before submitting: an HE job is refused without contacting anybody (nothing is charged).
    const client = new CoordinatorClient({ address: '127.0.0.1:1', tls: undefined });
    try {
      const err = await client.run(JOB).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FedmeshError);
      expect((err as FedmeshError).field).toBe('meshCa');
      expect((err as FedmeshError).message).toMatch(/refusing to run an HE job: meshCa is not set/);
    } finally {
      client.close();
    }
  });

  it('refuses bindings from certificates of another CA, pointing at meshCa', async () => {
    await expect(finalizeHeJob(finished(admitted()), prepared, rogueCa)).rejects.toThrow(/does not chain to the mesh CA.*Is meshCa the CA that issued the agents' certificates/s);
  });

  it('refuses too few contributors, and a contributor this client did not fix for the job', async () => {
    await expect(finalizeHeJob(finished(admitted(), ['a1']), prepared, ca)).rejects.toThrow(/he\.contributors: the coordinator reports 1 contributors; this job needs at least 2/);
    await expect(finalizeHeJob(finished(admitted(), ['a1', 'a2', 'a4']), prepared, ca)).rejects.toThrow(/contributor a4 is not one of the agents this client fixed/);
  });

  it('a job that did not succeed is returned untouched (nothing to decrypt)', async () => {
    const failed = { ...finished(admitted()), state: 'failed' as const, result: undefined };
    expect(await finalizeHeJob(failed, prepared, undefined)).toBe(failed);
  });
});

describe('F2: the fields coordinator admission fills are validated in form; nothing else may differ', () => {
  const he = { plan: { n: 1 }, publicKey: 'AAAA' };
  const own = parseJobSpec({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'distributed-dp', rho: 0.1, linkage: {} }, secure: 'he', he, agents: SITES });
  const salt = '00112233445566778899aabbccddeeff';
  const filled = (linkage: unknown, extra: Record<string, unknown> = {}): JobSpec => parseJobSpec({ ...own, privacy: { ...own.privacy, linkage, ...extra } });

  it('accepts the partition and salt admission writes (sites among the fixed agents), and drops maxSitesPerPerson', () => {
    const got = filled({ sites: ['a1', 'a3'], salt });
    expect(expectedHeSpec('j', { ...own, privacy: { ...own.privacy, maxSitesPerPerson: 1 } }, got).privacy.linkage).toEqual({ sites: ['a1', 'a3'], salt });
  });

  it('refuses an unfilled partition, a stranger site, or a maxSitesPerPerson kept under linkage', () => {
    expect(() => expectedHeSpec('j', own, filled({}))).toThrow(/privacy\.linkage: the coordinator did not fill in/);
    expect(() => expectedHeSpec('j', own, filled({ sites: ['a1', 'z9'], salt }))).toThrow(/privacy\.linkage\.sites: names z9/);
    expect(() => expectedHeSpec('j', own, filled({ sites: SITES, salt }, { maxSitesPerPerson: 1 }))).toThrow(/privacy\.maxSitesPerPerson: the coordinator's spec differs/);
  });

  it('without linkage: maxSitesPerPerson may be raised to the mesh floor, never lowered; privacy fields are otherwise fixed', () => {
    const plain = parseJobSpec({ ...own, privacy: { mode: 'distributed-dp', rho: 0.1, maxSitesPerPerson: 2 } });
    const with_ = (p: Record<string, unknown>): JobSpec => parseJobSpec({ ...plain, privacy: { ...plain.privacy, ...p } });
    expect(expectedHeSpec('j', plain, with_({ maxSitesPerPerson: 3 })).privacy.maxSitesPerPerson).toBe(3);
    expect(() => expectedHeSpec('j', plain, with_({ maxSitesPerPerson: 1 }))).toThrow(/lowered it from 2 to 1/);
    expect(() => expectedHeSpec('j', plain, with_({ rho: 0.2 }))).toThrow(/privacy\.rho: the coordinator's spec differs/);
    expect(() => expectedHeSpec('j', plain, parseJobSpec({ ...plain, privacy: { mode: 'distributed-dp', rho: 0.1, linkage: { sites: SITES, salt } } }))).toThrow(/privacy\.linkage: the coordinator's spec differs/);
  });

  it('mode none: secureMaxRows must be filled by admission; a researcher-given one must stay', () => {
    const none = parseJobSpec({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'none' }, secure: 'he', he, agents: SITES });
    expect(() => expectedHeSpec('j', none, none)).toThrow(/secureMaxRows: the coordinator did not fill in/);
    expect(expectedHeSpec('j', none, { ...none, secureMaxRows: 500 }).secureMaxRows).toBe(500);
    const given = { ...none, secureMaxRows: 100 };
    expect(() => expectedHeSpec('j', given, { ...none, secureMaxRows: 500 })).toThrow(/secureMaxRows: the coordinator's spec differs/);
  });

  it('verifyHeJob refuses a summarised spec (nothing to verify against)', () => {
    const prepared = { spec: { ...own }, keyPair: { publicKey: new Uint8Array(Buffer.from('AAAA', 'base64')) } };
    const job = { jobId: 'j', state: 'succeeded', spec: { kind: 'aggregate' }, specSummarised: true, result: { summary: {} } } as unknown as JobView;
    expect(() => verifyHeJob(job, prepared, 'CA')).toThrow(/spec: the coordinator returned no full spec/);
  });
});
