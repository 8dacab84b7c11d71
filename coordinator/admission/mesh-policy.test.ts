import { describe, expect, it } from 'vitest';
import { compileAccessPolicy } from '../../common/policy/index.js';
import { parseJobSpec } from '../../common/job/index.js';
import type { AgentView } from '../agent-registry.js';
import { checkMeshPolicy } from './mesh-policy.js';

const POLICY = '@id("research-only")\npermit (principal, action, resource) when { context.purpose == "HRESCH" && principal.purposes.contains(context.purpose) };\n';
const agent = (name: string, tags: string[]): AgentView => ({ name, domain: `${name}-domain`, connected: true, connectedSinceMs: 0, lastHeartbeatMs: 0, version: '0.1.0', policy: { minCellSize: 10, allowModes: ['central-dp'], allowKinds: ['aggregate'] }, products: [{ name: 'person', columns: [], privacyUnit: 'person_id', description: '', metadata: { tags } }] });
const spec = (purpose?: string) => parseJobSpec(JSON.stringify({ kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], ...(purpose ? { purpose } : {}) }));
const approved = { name: 'alice', isAdmin: false, authenticatedBy: 'oidc' as const, attributes: { roles: ['researcher'], purposes: ['HRESCH'], projects: [] } };

describe('mesh-wide policy at submission', () => {
  it('allows a researcher approved for the job purpose, refuses one who is not, naming the policy outcome', async () => {
    const p = await compileAccessPolicy(POLICY, 'mesh.cedar');
    expect(() => checkMeshPolicy(p, approved, spec(), [agent('a1', [])])).not.toThrow();
    expect(() => checkMeshPolicy(p, { ...approved, attributes: { ...approved.attributes, purposes: [] } }, spec(), [agent('a1', [])])).toThrow(expect.objectContaining({ code: 'POLICY_DENIED', message: expect.stringMatching(/at agent a1: no permit policy in mesh.cedar matches/) }));
    expect(() => checkMeshPolicy(p, approved, spec('TREAT'), [agent('a1', [])])).toThrow(/no permit policy/);
  });

  it('still decides with no agent to ask, and does nothing without a policy', async () => {
    const p = await compileAccessPolicy(POLICY, 'mesh.cedar');
    expect(() => checkMeshPolicy(p, { name: 'bob', isAdmin: false }, spec(), [])).toThrow(/mesh policy refuses this job: no permit/);
    expect(() => checkMeshPolicy(undefined, { name: 'bob', isAdmin: false }, spec(), [])).not.toThrow();
  });
});
