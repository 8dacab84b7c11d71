import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FedmeshError, quote } from './errors.js';

export type Role = 'coordinator' | 'agent' | 'researcher' | 'admin';

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** The identity the certificate was issued to (CN). */
  name: string;
  role: Role;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function certBaseName(role: Role, name?: string): string {
  return role === 'coordinator' ? 'coordinator' : `${role}-${name}`;
}

/**
 * Loads the CA, certificate and key a process of `role` uses, from a folder made by `fedmesh certs`.
 * @throws FedmeshError INVALID_ARGUMENT naming the missing file
 */
export function loadTlsMaterial(dir: string, role: Role, name?: string): TlsMaterial {
  if (role !== 'coordinator' && (!name || !NAME.test(name))) {
    throw new FedmeshError('INVALID_ARGUMENT', `--name must be given for a ${role} (letters, digits, _ . -), got ${quote(name)}`, { field: 'name' });
  }
  const base = certBaseName(role, name);
  const files = { ca: join(dir, 'ca.crt'), cert: join(dir, `${base}.crt`), key: join(dir, `${base}.key`) };
  for (const [what, path] of Object.entries(files)) {
    if (!existsSync(path)) {
      throw new FedmeshError('INVALID_ARGUMENT', `--tls-dir: ${what} file ${path} not found (make it with: fedmesh certs --out ${dir} ...)`, { field: 'tls-dir' });
    }
  }
  return {
    ca: readFileSync(files.ca),
    cert: readFileSync(files.cert),
    key: readFileSync(files.key),
    name: name ?? 'coordinator',
    role,
  };
}
