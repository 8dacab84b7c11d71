import { loadTlsMaterial, type Role, type TlsMaterial } from '../../common/tls.js';
import { CoordinatorClient } from '../transport/coordinator-client.js';

export interface ConnectionFlags {
  coordinator?: string;
  tlsDir?: string;
  name?: string;
  insecure?: boolean;
}

export const INSECURE_WARNING =
  '!!! WARNING: --insecure: NO TLS. Traffic is plaintext and unauthenticated. Loopback development only. !!!';

/** Resolves TLS material for a role, or undefined with a loud warning under --insecure. */
export function tlsFor(flags: ConnectionFlags, role: Role, name?: string): TlsMaterial | undefined {
  if (flags.insecure) {
    process.stderr.write(`${INSECURE_WARNING}\n`);
    return undefined;
  }
  if (!flags.tlsDir) throw new RangeError('--tls-dir is required (make certificates with `fedmesh certs`), or pass --insecure for loopback development');
  return loadTlsMaterial(flags.tlsDir, role, name);
}

export function researcherClient(flags: ConnectionFlags, role: 'researcher' | 'admin' = 'researcher'): CoordinatorClient {
  if (!flags.coordinator) throw new RangeError('--coordinator HOST:PORT is required');
  const tls = tlsFor(flags, role, flags.name ?? role);
  return new CoordinatorClient({ address: flags.coordinator, tls });
}

/** Resolves when the process receives SIGINT or SIGTERM. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => () => resolve(sig);
    process.once('SIGINT', on('SIGINT'));
    process.once('SIGTERM', on('SIGTERM'));
  });
}
