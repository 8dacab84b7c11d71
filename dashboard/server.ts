/**
 * The dashboard on the network: HTTPS with the mesh's certificates (the coordinator's server certificate; client
 * certificates requested and verified against the mesh CA), or plaintext with `insecure` for loopback development.
 * Port 0 lets the OS choose; `url` says where it ended up.
 */
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { serve, type HttpBindings } from '@hono/node-server';
import type { TlsMaterial } from '../common/tls.js';
import { FedmeshError } from '../common/errors.js';
import { isLoopbackHost } from '../common/transport/index.js';
import type { OidcVerifier } from '../coordinator/identity/index.js';
import type { DashboardBackend } from './backend.js';
import { createDashboardApp } from './app.js';
import { authenticateRequest } from './auth.js';
import { OidcLogin, type OidcLoginOptions } from './oidc-login.js';

export interface DashboardServerOptions {
  backend: DashboardBackend;
  /** HOST:PORT; port 0 lets the OS choose. */
  listen: string;
  /** Server certificate and the CA client certificates must chain to; omit only with `insecure`. */
  tls?: TlsMaterial | undefined;
  insecure?: boolean;
  oidc?: OidcVerifier | undefined;
  /** Browser sign-in against the `oidc` issuer (authorization code + PKCE). @default off: certificates and bearer tokens only */
  login?: Omit<OidcLoginOptions, 'verifier' | 'secureCookies'> | undefined;
  log?: (event: string, fields?: Record<string, unknown>) => void;
}

export interface RunningDashboard {
  url: string;
  port: number;
  close(): Promise<void>;
}

function splitListen(listen: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new RangeError('--dashboard-listen must be HOST:PORT (port 0 lets the OS choose)');
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * With --insecure every caller is insecure-dev: a page of another site whose name is rebound to 127.0.0.1 (DNS
 * rebinding) would be same-origin with the dashboard and could read it and submit jobs (red team 42). Requests whose
 * Host is not a loopback name are answered 421 Misdirected Request.
 */
function loopbackHostOnly<E>(fetch: (req: Request, env: E) => Response | Promise<Response>): (req: Request, env: E) => Response | Promise<Response> {
  return (req, env) => {
    const host = (req.headers.get('host') ?? '').replace(/:\d+$/, '');
    if (!isLoopbackHost(host)) return new Response('--insecure dashboard: only loopback host names (127.0.0.1, localhost, [::1]) are served\n', { status: 421, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
    return fetch(req, env);
  };
}

/** @throws RangeError naming the option for a bad address, or without TLS material unless insecure */
export async function startDashboardServer(opts: DashboardServerOptions): Promise<RunningDashboard> {
  const { host, port } = splitListen(opts.listen);
  const insecure = opts.insecure === true;
  // Plain HTTP with no caller identity (every request is insecure-dev): loopback only, as for the gRPC port.
  if (insecure && !isLoopbackHost(host)) throw new RangeError('--insecure is for loopback development only: the dashboard must listen on 127.0.0.1 or localhost (--dashboard-listen)');
  if (!insecure && !opts.tls) throw new RangeError('the dashboard needs the TLS material (--tls-dir) unless --insecure');
  const auth = { insecure, oidc: opts.oidc };
  if (opts.login && (!opts.oidc || insecure)) throw new RangeError(opts.oidc ? 'the dashboard sign-in needs HTTPS: it cannot be used with --insecure' : 'the dashboard sign-in (--dashboard-oidc-client-id) needs the coordinator\'s OIDC issuer (--oidc-issuer, --oidc-audience, --oidc-jwks)');
  const login = opts.login && opts.oidc ? new OidcLogin({ ...opts.login, verifier: opts.oidc, secureCookies: true }) : undefined;
  const app = createDashboardApp({
    backend: opts.backend,
    ...(opts.log ? { log: opts.log } : {}),
    ...(login ? { login } : {}),
    identify: (c) => {
      const env = c.env as HttpBindings | undefined;
      if (!env?.incoming) return Promise.reject(new FedmeshError('UNAUTHENTICATED', 'no transport identity'));
      return authenticateRequest({ authorization: c.req.header('authorization'), socket: insecure ? undefined : (env.incoming.socket as TLSSocket) }, auth);
    },
  });
  const tls = opts.tls;
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve(
      {
        fetch: insecure ? loopbackHostOnly(app.fetch) : app.fetch,
        hostname: host,
        port,
        ...(tls && !insecure
          ? { createServer: createHttpsServer, serverOptions: { key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' as const } }
          : {}),
      },
      () => resolve(s),
    );
    s.once('error', reject);
  });
  const addr = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const url = `${insecure ? 'http' : 'https'}://${shownHost === '0.0.0.0' ? '127.0.0.1' : shownHost}:${addr.port}/`;
  if (login && !opts.login?.baseUrl) login.setBaseUrl(url);
  return {
    url,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        // Open event streams would hold close() for ever: end the connections too.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
