/**
 * A job may name only a project its researcher works under, when the identity says which those are: an OpenID
 * Connect token's `projects` claim (mapped by coordinator/identity/claims-map.ts). Otherwise a researcher outside a
 * project could spend the project's budget (and lock its members out) or read its spend. Certificate logins carry no
 * project list; their jobs may name any project, which the README's threat model states.
 */
import { FedmeshError } from '../../common/errors.js';
import type { Principal } from '../principal.js';

/** @throws FedmeshError POLICY_DENIED naming `project` when the caller's identity lists projects and not this one */
export function checkProjectMembership(caller: Principal, project: unknown): void {
  if (typeof project !== 'string' || caller.authenticatedBy !== 'oidc') return;
  const projects = caller.attributes?.projects ?? [];
  if (!projects.includes(project)) {
    throw new FedmeshError('POLICY_DENIED', `project: ${caller.name} does not work under project ${project} (the identity token lists ${projects.length === 0 ? 'no projects' : projects.join(', ')})`, { field: 'project' });
  }
}
