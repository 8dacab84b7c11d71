import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { compileAccessPolicy } from '../../common/policy/index.js';
import { createOidcVerifier } from '../../coordinator/identity/index.js';
import { Agent } from '../../node-agent/index.js';
import { sharedCerts, startMesh, type TestMesh } from '../helpers/mesh.js';
import { startTestIssuer, type TestIssuer } from '../helpers/oidc-issuer.js';
import { makePersons, writePersonCsv } from '../helpers/person-data.js';

/**
 * Cedar policy at every domain, over the real transport: a1 runs examples/policies/hospital-a.cedar on a product
 * tagged oncology, a2 has no policy (today's rules). The coordinator pre-checks a mesh-wide policy. A refusal names
 * the policy, charges nothing at the refusing agent, and the job says which agent refused and why.
 */
const HOSPITAL_A = join(import.meta.dirname, '../../examples/policies/hospital-a.cedar');
const MESH_POLICY = `@id("mesh-epsilon-cap")
forbid (principal, action, resource) when { context.epsilon.greaterThan(decimal("2.0")) };
@id("mesh-open")
permit (principal, action, resource);
`;

describe('attribute-based access policy at every domain', () => {
  let mesh: TestMesh;
  let idp: TestIssuer;
  let alice: CoordinatorClient;
  const lines: { event: string; fields: Record<string, unknown> }[] = [];
  const dp = { kind: 'aggregate', product: 'person', groupBy: [], measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 0.5 } };

  beforeAll(async () => {
    idp = await startTestIssuer(await sharedCerts(['a1', 'a2']));
    const oidc = createOidcVerifier({ issuer: idp.issuer, audience: idp.audience, jwksUrl: idp.jwksUrl, jwksCa: idp.ca });
    mesh = await startMesh({ agentNames: ['a1', 'a2'], oidc, accessPolicy: await compileAccessPolicy(MESH_POLICY, 'mesh.cedar'), coordinatorLog: (event, fields = {}) => lines.push({ event, fields }) });
    for (const [i, n] of ['a1', 'a2'].entries()) {
      const dir = join(mesh.dir, 'data', n);
      await writePersonCsv(dir, makePersons(80, 11 + i, (i + 1) * 100_000));
      await writeFile(join(dir, 'fedmesh.products.json'), JSON.stringify({ products: { person: { tags: ['oncology'] } } }));
    }
    await mesh.startAgent('a1', join(mesh.dir, 'data', 'a1'), undefined, { accessPolicy: { file: HOSPITAL_A } });
    await mesh.startAgent('a2', join(mesh.dir, 'data', 'a2'));
    await mesh.waitForAgents(2);
    alice = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: undefined, bearer: { ca: idp.ca, token: await idp.sign({ sub: 'alice', org: 'org-x', projects: ['ONC-7'] }, { expiresInSec: 600 }) } });
  }, 120_000);
  afterAll(async () => {
    alice?.close();
    await mesh?.close();
    await idp?.close();
  });

  const spend = (agent: string, who = 'alice'): Promise<unknown> => mesh.agents.get(agent)!.privacyLedger.spend(who);

  it('permits what the domain policy permits: org-x researcher, HRESCH, oncology, ε ≤ 1', async () => {
    const job = await alice.run({ ...dp, purpose: 'HRESCH' });
    expect(job.state).toBe('succeeded');
    expect(job.agents.answered).toEqual(['a1', 'a2']);
  });

  it('a forbid refuses with the policy id, nothing is charged at the refusing agent, and the job names it', async () => {
    const [a1Before, a2Before] = [await spend('a1'), await spend('a2')];
    // CLINTRCH is permitted for org-x, but forbidden without an approved project: forbid beats permit. (A project the
    // token does not list never gets this far: the coordinator refuses it, see admission/project-membership.test.ts.)
    const job = await alice.run({ ...dp, purpose: 'CLINTRCH', quorum: 1 });
    expect(job.state).toBe('succeeded');
    expect(job.agents.answered).toEqual(['a2']);
    expect(job.result!.complete).toBe(false);
    expect(job.result!.agentsMissing).toEqual([{ agent: 'a1', reason: expect.stringMatching(/POLICY_DENIED: the domain policy of a1 refuses this job: forbidden by policy trial-needs-approved-project \(hospital-a\.cedar:21\)/) }]);
    expect(await spend('a1')).toEqual(a1Before);
    // Control: the agent that answered was charged.
    expect(await spend('a2')).not.toEqual(a2Before);
    // With the approved project the same job runs at both.
    const approved = await alice.run({ ...dp, purpose: 'CLINTRCH', project: 'ONC-7' });
    expect(approved.agents.answered).toEqual(['a1', 'a2']);
  });

  it('forbid beats permit on exact counts; no permit is a deny (a certificate researcher has no organisation)', async () => {
    const none = await alice.run({ ...dp, privacy: { mode: 'none' }, purpose: 'HRESCH', quorum: 1 });
    expect(none.result!.agentsMissing).toEqual([{ agent: 'a1', reason: expect.stringMatching(/forbidden by policy no-exact-counts/) }]);
    const before = await spend('a1', 'researcher');
    const cert = await mesh.client.run({ ...dp, quorum: 1 });
    expect(cert.result!.agentsMissing).toEqual([{ agent: 'a1', reason: expect.stringMatching(/no permit policy in hospital-a\.cedar matches \(default deny\)/) }]);
    expect(await spend('a1', 'researcher')).toEqual(before);
  });

  it('under the default quorum the failed job says which agent refused and by which policy', async () => {
    const job = await alice.run({ ...dp, purpose: 'PUBHLTH' });
    expect(job.state).toBe('failed');
    expect(job.error!.code).toBe('QUORUM_NOT_MET');
    // The built-in path and the kind seam word the agent's refusal slightly differently (the seam adds its code).
    expect(job.error!.message).toMatch(/a1: (POLICY_DENIED: )?the domain policy of a1 refuses this job: no permit policy/);
  });

  it('the mesh-wide policy is pre-checked at submission, before anything is charged', async () => {
    const before = await mesh.coordinator.budgetReport('alice', false);
    await expect(alice.submitJob({ ...dp, privacy: { mode: 'central-dp', epsilon: 2.5 } })).rejects.toMatchObject({ code: 'POLICY_DENIED', message: expect.stringMatching(/mesh policy refuses this job at agent a\d: forbidden by policy mesh-epsilon-cap \(mesh\.cedar:1\)\. Nothing was charged/) });
    expect(await mesh.coordinator.budgetReport('alice', false)).toEqual(before);
    // The refusal is logged with the policy that decided it (the hook an audit trail reads).
    expect(lines.find((l) => l.event === 'job-rejected' && l.fields.researcher === 'alice')?.fields).toMatchObject({ code: 'POLICY_DENIED', field: 'policy', policyIds: ['mesh-epsilon-cap'] });
  });

  it('a bad policy stops the agent before it opens its data, naming the file and line', async () => {
    const dir = join(mesh.dir, 'bad');
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'bad.cedar');
    await writeFile(file, '@id("ok")\npermit (principal, action, resource)\nwhen { context.purpos == "HRESCH" };\n');
    await expect(Agent.create({ name: 'a9', dataDir: join(mesh.dir, 'data', 'a2'), stateDir: join(dir, 'state'), coordinator: '127.0.0.1:1', insecure: true, accessPolicy: { file } })).rejects.toThrow(/bad\.cedar:3: policy ok: .*purpos/);
  });
});
