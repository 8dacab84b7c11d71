import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../coordinator.js';
import type { Principal } from '../principal.js';
import { checkProjectMembership } from './project-membership.js';

const oidc = (projects: string[]): Principal => ({ name: 'alice', isAdmin: false, authenticatedBy: 'oidc', attributes: { roles: ['researcher'], purposes: [], projects } });

describe('project membership at submission', () => {
  it('an OIDC researcher may name only a project the token lists; certificates carry no list', () => {
    expect(() => checkProjectMembership(oidc(['IRB-1']), 'IRB-2')).toThrow(/alice does not work under project IRB-2 \(the identity token lists IRB-1\)/);
    expect(() => checkProjectMembership(oidc([]), 'IRB-1')).toThrow(/lists no projects/);
    // Controls: a listed project, no project, a certificate login.
    expect(() => checkProjectMembership(oidc(['IRB-1']), 'IRB-1')).not.toThrow();
    expect(() => checkProjectMembership(oidc(['IRB-1']), undefined)).not.toThrow();
    expect(() => checkProjectMembership({ name: 'alice', isAdmin: false, authenticatedBy: 'certificate' }, 'IRB-2')).not.toThrow();
  });

  describe('in the coordinator, for built-in and registry kinds', () => {
    let dir: string;
    let c: Coordinator;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'fedmesh-project-member-'));
      c = await Coordinator.create({ stateDir: join(dir, 'state') });
    });
    afterEach(async () => {
      await c.close();
      await rm(dir, { recursive: true, force: true });
    });
    const specs = {
      aggregate: { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1 } },
      glm: { kind: 'glm', product: 'person', family: 'binomial', outcome: 'y', covariates: [{ column: 'x', type: 'numeric', bounds: [0, 1] }], privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } },
    };
    for (const [kind, spec] of Object.entries(specs)) {
      it(`${kind}: refused with POLICY_DENIED naming project before anything is stored; a listed project passes that check`, async () => {
        await expect(c.submitJob(oidc(['IRB-1']), JSON.stringify({ ...spec, project: 'IRB-2' }))).rejects.toMatchObject({ code: 'POLICY_DENIED', field: 'project' });
        // Control: with its own project the job gets past membership (it then fails for want of agents, not for the project).
        const other = await c.submitJob(oidc(['IRB-1']), JSON.stringify({ ...spec, project: 'IRB-1' })).catch((e: unknown) => e as { field?: string });
        expect((other as { field?: string }).field).not.toBe('project');
        expect(await c.listJobs(oidc(['IRB-1']))).toEqual([]);
      });
    }
  });
});
