/**
 * `fedmesh coordinator --dashboard-listen HOST:PORT`: the web dashboard in the coordinator's process, over the
 * coordinator's own service API (same ownership rules as GetJob) and its TLS material and OIDC verifier. Loaded
 * only when asked for, so the coordinator's start-up does not pay for Hono and vega otherwise.
 */
import type { Coordinator } from '../../coordinator/coordinator.js';
import type { OidcVerifier } from '../../coordinator/identity/index.js';
import type { TlsMaterial } from '../../common/tls.js';

export interface DashboardFlags {
  dashboardListen?: string;
}

/** Starts the dashboard when the flag is given and prints its address; the returned function stops it. */
export async function startDashboardFlag(flags: DashboardFlags & { insecure?: boolean }, coordinator: Coordinator, tls: TlsMaterial | undefined, oidc: OidcVerifier | undefined): Promise<() => Promise<void>> {
  if (flags.dashboardListen === undefined) return async () => undefined;
  const { coordinatorBackend, startDashboardServer } = await import('../../dashboard/index.js');
  const d = await startDashboardServer({ backend: coordinatorBackend(coordinator), listen: flags.dashboardListen, tls, insecure: flags.insecure === true, oidc, log: coordinator.log });
  coordinator.log('dashboard-listening', { url: d.url });
  process.stdout.write(`fedmesh dashboard on ${d.url}${tls && flags.insecure !== true ? ' (HTTPS; a researcher or administrator client certificate of this mesh, or a bearer token)' : ' (INSECURE)'}\n`);
  return () => d.close();
}
