/**
 * Red-team findings F2/F6 through a real mesh: the researcher's client verifies the agents' HE bindings against the
 * spec IT submitted, taking from the coordinator only what admission fills in. These are the honest paths that must
 * keep working — a linkage-bounded job (admission fills the site list and salt and drops the mesh's
 * maxSitesPerPerson) and a job on a mesh assuming persons at 3 sites (admission raises maxSitesPerPerson to 3) — and
 * the hostile one: a coordinator that hands every agent one altered partition (agents encrypt and sign for it, so
 * the coordinator's own check passes) is refused by the client before it decrypts.
 */
import { createHmac } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentTask, AgentTaskReply } from '../../common/agent-protocol.js';
import type { IdentityAssertionClaims } from '../../common/identity/index.js';
import { parseJobSpec } from '../../common/job/index.js';
import { encodeEnvelope, attestationToJson, heRoundId, verifyHeBindings } from '../../common/secure/index.js';
import { addCiphertexts, splitCiphertexts } from '../../common/he/index.js';
import { loadTlsMaterial } from '../../common/tls.js';
import type { JobView } from '../../client/sdk/types.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

const SITES = ['a1', 'a2', 'a4'];
const SECRET = 'test-only secret the sites share';
const key = (p: number): string => createHmac('sha256', SECRET).update(`national-id-${p}`).digest('hex');

async function writeSite(dir: string, persons: number[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const lines = ['person_id,link_key,x'];
  for (const p of persons) for (let r = 0; r < 2; r++) lines.push(`${p + 1000 * r},${key(p)},${(p % 7) + 1}`);
  await writeFile(join(dir, 'visits.csv'), lines.join('\n') + '\n');
  await writeFile(join(dir, 'fedmesh.products.json'), JSON.stringify({ version: 1, products: { visits: { privacyUnit: 'person_id', linkageKey: 'link_key' } } }));
}

type Serve = (t: AgentTask, id?: IdentityAssertionClaims) => Promise<AgentTaskReply>;

describe('HE jobs: the client verifies against its own submission; admission-filled fields pass, altered ones do not', () => {
  let mesh: TestMesh;
  const originals = new Map<string, Serve>();
  const job = (privacy: Record<string, unknown>): Record<string, unknown> => ({ kind: 'aggregate', product: 'visits', agents: SITES, secure: 'he', measures: [{ fn: 'count' }], privacy: { mode: 'distributed-dp', rho: 0.05, maxRowsPerPerson: 2, ...privacy } });
  const keyDir = (): string => join(mesh.dir, 'researcher-keys');

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: SITES, maxSitesPerPerson: 3 });
    const persons = Array.from({ length: 90 }, (_, i) => i + 1);
    await writeSite(join(mesh.dir, 'data', 'a1'), persons.slice(0, 60));
    await writeSite(join(mesh.dir, 'data', 'a2'), persons.slice(30));
    await writeSite(join(mesh.dir, 'data', 'a4'), persons.slice(10, 40));
    for (const name of SITES) {
      const agent = await mesh.startAgent(name, join(mesh.dir, 'data', name), { allowModes: ['distributed-dp'], budgetCap: { epsilon: 100, delta: 1e-3 } });
      originals.set(name, agent.serveTask.bind(agent) as Serve);
    }
    await mesh.waitForAgents(3);
  }, 120_000);
  afterAll(async () => mesh?.close());

  it('linkage: the filled-in site list and salt verify, and the client decrypts', async () => {
    const j = await mesh.client.run(job({ linkage: {} }), undefined, { keyDir: keyDir() });
    expect(j.error).toBeUndefined();
    const g = (j.result!.privacy as { guarantee: { maxSitesPerPerson: number; crossSiteBound?: string } }).guarantee;
    expect(g.maxSitesPerPerson).toBe(1);
    expect(j.result!.privacy.decryptedBy).toBe('researcher client');
    const stored = j.spec as { privacy: { linkage: { sites: string[]; salt: string }; maxSitesPerPerson?: number } };
    expect(stored.privacy.linkage.sites).toEqual(SITES);
    expect(stored.privacy.maxSitesPerPerson).toBeUndefined();
  }, 120_000);

  it('no linkage on a mesh assuming 3 sites per person: the raised maxSitesPerPerson verifies', async () => {
    const j = await mesh.client.run(job({}), undefined, { keyDir: keyDir() });
    expect(j.error).toBeUndefined();
    expect((j.spec as { privacy: { maxSitesPerPerson: number } }).privacy.maxSitesPerPerson).toBe(3);
    expect(j.result!.privacy.decryptedBy).toBe('researcher client');
    // The release is planned from the verified spec the agents noised with (maxSitesPerPerson 3: sensitivity 3 × k),
    // not from the one made before submitting (1 × k: understated noise, another grid). 300 rows in all.
    const p = j.result!.privacy as { guarantee: { maxSitesPerPerson: number }; mechanisms: { shares: { rows: { sensitivity: number; totalStd: number } } }[] };
    expect(p.guarantee.maxSitesPerPerson).toBe(3);
    expect(p.mechanisms[0]!.shares.rows.sensitivity).toBe(6);
    const row = j.result!.rows[0] as { count: number; count_std: number };
    expect(row.count_std).toBe(p.mechanisms[0]!.shares.rows.totalStd);
    // Tolerance 6 σ (two-sided tail below 2e-9); the negative control is the stated sensitivity above.
    expect(Math.abs(row.count - 300)).toBeLessThan(6 * row.count_std);
  }, 120_000);

  it('a coordinator handing every agent the same altered partition gets signed contributions, but the client refuses to decrypt', async () => {
    // Plays the coordinator at the agents' task handler: every agent gets the spec with a stranger site added to the
    // partition, and the round id matching it. The agents encrypt and sign for that spec. (This coordinator's own
    // round checks against its stored spec and fails the job; a malicious one would sum the contributions and return
    // the altered spec with the bindings — built here from what the agents really sent.)
    const sent = new Map<string, { binding: unknown; payload: Uint8Array }>();
    let altered: Record<string, unknown> | undefined;
    for (const name of SITES) {
      mesh.agents.get(name)!.serveTask = async (t: AgentTask, id?: IdentityAssertionClaims) => {
        const spec = JSON.parse(t.specJson) as { privacy: { linkage?: { sites: string[]; salt: string } } };
        if (spec.privacy.linkage) spec.privacy.linkage = { sites: [...spec.privacy.linkage.sites, 'z9'], salt: spec.privacy.linkage.salt };
        altered = spec as unknown as Record<string, unknown>;
        const reply = await originals.get(name)!({ ...t, specJson: JSON.stringify(spec), payload: encodeEnvelope({ roundId: heRoundId(t.jobId, parseJobSpec(spec)) }) }, id);
        if (reply.ok && reply.payload) sent.set(name, { binding: reply.meta.heBinding, payload: reply.payload });
        return reply;
      };
    }
    try {
      const prepared = await mesh.client.prepareHe(job({ linkage: {} }), { keyDir: keyDir() });
      const submitted = await mesh.client.submitJob(prepared.spec);
      const watched = await mesh.client.watchJob(submitted.jobId);
      expect(watched.result).toBeUndefined();
      expect(String(watched.error?.message)).toMatch(/spec hash mismatch/);
      expect([...sent.keys()].sort()).toEqual(SITES);
      const plan = prepared.keyPair.plan;
      const size = plan.ciphertextByteSize;
      const sums = await addCiphertexts(plan, SITES.map((n) => splitCiphertexts(sent.get(n)!.payload, size)));
      const resultCiphertexts = new Uint8Array(sums.length * size);
      sums.forEach((c, i) => resultCiphertexts.set(c, i * size));
      const attested = new Map(mesh.coordinator.registry.connected().map((a) => [a.name, a.identity!]));
      const bindings = SITES.map((n) => ({ binding: sent.get(n)!.binding, attestation: attestationToJson(attested.get(n)!) }));
      const forged: JobView = { ...watched, state: 'succeeded', error: undefined, spec: altered, resultCiphertexts, result: { columns: ['count', 'count_std'], rows: [], suppressed: [], privacy: {}, notes: [], agentErrors: {}, summary: { he: { contributors: 3, minCellSize: 1, bindings } } } };
      // The premise: every binding verifies against the spec the forged job carries.
      const ca = loadTlsMaterial(mesh.tlsDir, 'researcher', 'researcher').ca;
      expect(() => verifyHeBindings(bindings, 3, watched.jobId, parseJobSpec(altered), ca)).not.toThrow();
      await expect(mesh.client.finalizeHe(forged, prepared)).rejects.toThrow(/privacy\.linkage\.sites: names z9, not one of the agents this client fixed/);
    } finally {
      for (const name of SITES) mesh.agents.get(name)!.serveTask = originals.get(name)! as never;
    }
  }, 120_000);
});
