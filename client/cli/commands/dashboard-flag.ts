/**
 * `fedmesh coordinator --dashboard-listen HOST:PORT`: the web dashboard in the coordinator's process, over the
 * coordinator's own service API (same ownership rules as GetJob) and its TLS material and OIDC verifier. Loaded
 * only when asked for, so the coordinator's start-up does not pay for Hono and vega otherwise.
 */
import { readFileSync } from 'node:fs';
import type { Coordinator } from '../../../coordinator/coordinator.js';
import type { OidcVerifier } from '../../../coordinator/identity/index.js';
import type { TlsMaterial } from '../../../common/tls.js';

export interface DashboardFlags {
  dashboardListen?: string;
  /** Browser sign-in against the --oidc-issuer: the dashboard's client id there (default: --oidc-audience). */
  dashboardOidcClientId?: string;
  dashboardOidcClientSecretFile?: string;
  /** The dashboard's public address, for the sign-in redirect URI (default: the address it listens on). */
  dashboardUrl?: string;
}

/** The browser sign-in the flags ask for, or undefined. @throws RangeError naming the flag */
function loginFromFlags(flags: DashboardFlags, oidc: OidcVerifier | undefined): { clientId?: string; clientSecret?: string; baseUrl?: string } | undefined {
  if (flags.dashboardOidcClientId === undefined && flags.dashboardOidcClientSecretFile === undefined) return undefined;
  if (!oidc) throw new RangeError('--dashboard-oidc-client-id needs --oidc-issuer, --oidc-audience and --oidc-jwks (the browser sign-in uses the same issuer)');
  let clientSecret: string | undefined;
  if (flags.dashboardOidcClientSecretFile !== undefined) {
    try {
      clientSecret = readFileSync(flags.dashboardOidcClientSecretFile, 'utf8').trim();
    } catch (e) {
      throw new RangeError(`--dashboard-oidc-client-secret-file: cannot read it: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { cause: e });
    }
    if (clientSecret.length === 0 || clientSecret.length > 1024) throw new RangeError('--dashboard-oidc-client-secret-file must hold one secret of 1 to 1024 characters');
  }
  if (flags.dashboardUrl !== undefined && !/^https:\/\/[^\s]{1,500}$/.test(flags.dashboardUrl)) throw new RangeError('--dashboard-url must be an https URL');
  return { ...(flags.dashboardOidcClientId ? { clientId: flags.dashboardOidcClientId } : {}), ...(clientSecret ? { clientSecret } : {}), ...(flags.dashboardUrl ? { baseUrl: flags.dashboardUrl } : {}) };
}

/** Starts the dashboard when the flag is given and prints its address; the returned function stops it. */
export async function startDashboardFlag(flags: DashboardFlags & { insecure?: boolean }, coordinator: Coordinator, tls: TlsMaterial | undefined, oidc: OidcVerifier | undefined): Promise<() => Promise<void>> {
  if (flags.dashboardListen === undefined) return async () => undefined;
  const login = loginFromFlags(flags, oidc);
  const { coordinatorBackend, startDashboardServer } = await import('../../../dashboard/index.js');
  const d = await startDashboardServer({ backend: coordinatorBackend(coordinator), listen: flags.dashboardListen, tls, insecure: flags.insecure === true, oidc, login, log: coordinator.log });
  coordinator.log('dashboard-listening', { url: d.url });
  process.stdout.write(`fedmesh dashboard on ${d.url}${tls && flags.insecure !== true ? ` (HTTPS; a researcher or administrator client certificate of this mesh, or a bearer token${login ? `, or sign in with ${oidc!.options.issuer}` : ''})` : ' (INSECURE)'}\n`);
  return () => d.close();
}
