import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { FedmeshError, quote } from '../../../common/errors.js';
import { join } from 'node:path';
import { certBaseName, loadTlsMaterial, type Role, type TlsMaterial } from '../../../common/tls.js';
import { configPath, parseConfigFile, resolveConnection, type ConfigFile, type ResolvedConnection } from '../../sdk/config.js';
import { CoordinatorClient } from '../../sdk/transport/coordinator-client.js';
import { readTokenFile } from './oidc-flags.js';

export interface ConnectionFlags {
  coordinator?: string;
  tlsDir?: string;
  name?: string;
  insecure?: boolean;
  /** A section of the config file (see client/config.ts). */
  profile?: string;
  /** A file holding an OpenID Connect bearer token: used instead of the researcher certificate. */
  tokenFile?: string;
}

export const INSECURE_WARNING =
  '!!! WARNING: --insecure: NO TLS. Traffic is plaintext and unauthenticated. Loopback development only. !!!';

/** Resolves TLS material for a role, or undefined with a loud warning under --insecure. */
export function tlsFor(flags: ConnectionFlags, role: Role, name?: string): TlsMaterial | undefined {
  if (flags.insecure) {
    process.stderr.write(`${INSECURE_WARNING}\n`);
    return undefined;
  }
  if (!flags.tlsDir) throw new RangeError('--tls-dir is required (or FEDMESH_TLS_DIR, or tlsDir in a config profile; make certificates with `fedmesh certs`), or pass --insecure for loopback development');
  return loadTlsMaterial(flags.tlsDir, role, name);
}

/** Flag > environment > config profile > default: the entry point's one read of the environment and config file. */
export function connectionSettings(flags: ConnectionFlags, role: 'researcher' | 'admin'): ResolvedConnection {
  const home = homedir();
  const path = configPath(process.env, home);
  let config: ConfigFile | undefined;
  if (existsSync(path)) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new FedmeshError('INVALID_ARGUMENT', `config ${quote(path, 200)}: cannot read: ${quote((e as Error).message, 200)}`);
    }
    config = parseConfigFile(text, path);
  } else if (process.env.FEDMESH_CONFIG) {
    throw new FedmeshError('INVALID_ARGUMENT', `FEDMESH_CONFIG: no such file ${quote(path, 200)}`);
  }
  return resolveConnection({ flags, env: process.env, ...(config ? { config } : {}), configPath: path, home, role });
}

export function researcherClient(flags: ConnectionFlags, role: 'researcher' | 'admin' = 'researcher'): CoordinatorClient {
  const c = connectionSettings(flags, role);
  if (flags.tokenFile !== undefined) {
    if (c.insecure) throw new RangeError('--token-file needs TLS: a bearer token is never sent in plaintext (drop --insecure)');
    if (!c.tlsDir) throw new RangeError('--token-file needs --tls-dir (its ca.crt verifies the coordinator)');
    const caPath = join(c.tlsDir, 'ca.crt');
    if (!existsSync(caPath)) throw new RangeError(`--tls-dir: ${caPath} not found`);
    return new CoordinatorClient({ address: c.coordinator, tls: undefined, bearer: { ca: readFileSync(caPath), token: readTokenFile(flags.tokenFile) }, files: { caPath } });
  }
  const tls = tlsFor({ ...(c.tlsDir !== undefined ? { tlsDir: c.tlsDir } : {}), insecure: c.insecure }, role, c.name);
  const files = tls && c.tlsDir ? { caPath: join(c.tlsDir, 'ca.crt'), certPath: join(c.tlsDir, `${certBaseName(role, c.name)}.crt`) } : undefined;
  return new CoordinatorClient({ address: c.coordinator, tls, ...(files ? { files } : {}) });
}

/** Resolves when the process receives SIGINT or SIGTERM. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => () => resolve(sig);
    process.once('SIGINT', on('SIGINT'));
    process.once('SIGTERM', on('SIGTERM'));
  });
}
