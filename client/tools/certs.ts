import { execFile } from 'node:child_process';
import { mkdir, writeFile, chmod, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { certBaseName, type Role } from '../../common/tls.js';

const run = promisify(execFile);

export interface CertsOptions {
  outDir: string;
  agents: string[];
  /** @default ['researcher'] */
  researchers?: string[];
  /** Administrators (may set budgets). @default ['admin'] */
  admins?: string[];
  /** Extra DNS names for the coordinator certificate. @default ['localhost'] */
  coordinatorHosts?: string[];
  /** @default 825 */
  days?: number;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { maxBuffer: 1 << 20 });
  } catch (e) {
    const err = e as { code?: string; stderr?: string };
    if (err.code === 'ENOENT') throw new Error('fedmesh certs needs the openssl command (apt-get install openssl)', { cause: e });
    throw new Error(`openssl ${args[0]} failed: ${err.stderr ?? String(e)}`, { cause: e });
  }
}

async function issue(dir: string, role: Role, name: string, sans: string[], days: number): Promise<void> {
  const base = certBaseName(role, name);
  const key = join(dir, `${base}.key`);
  const csr = join(dir, `${base}.csr`);
  const ext = join(dir, `${base}.ext`);
  const usage = role === 'coordinator' ? 'serverAuth' : 'clientAuth';
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  await chmod(key, 0o600);
  await openssl(['req', '-new', '-key', key, '-out', csr, '-subj', `/O=fedmesh/OU=${role}/CN=${name}`]);
  const lines = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', `extendedKeyUsage=${usage}`];
  if (sans.length > 0) lines.push(`subjectAltName=${sans.join(',')}`);
  await writeFile(ext, lines.join('\n') + '\n');
  await openssl(['x509', '-req', '-in', csr, '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', join(dir, `${base}.crt`), '-days', String(days), '-sha256', '-extfile', ext]);
  await rm(csr);
  await rm(ext);
}

/**
 * Makes a development CA and certificates for the coordinator, each agent and each researcher (ECDSA P-256).
 * The CA key stays in the folder: this is for development meshes; production meshes use their own PKI.
 */
export async function makeDevCertificates(options: CertsOptions): Promise<string[]> {
  const researchers = options.researchers && options.researchers.length > 0 ? options.researchers : ['researcher'];
  const days = options.days ?? 825;
  const admins = options.admins ?? ['admin'];
  for (const n of [...options.agents, ...researchers, ...admins]) {
    if (!NAME.test(n)) throw new RangeError(`certificate names must be letters, digits, _ . - (got ${JSON.stringify(n)})`);
  }
  if (options.agents.length === 0) throw new RangeError('--agents must name at least one agent');
  const dir = options.outDir;
  await mkdir(dir, { recursive: true });
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'ca.key')]);
  await chmod(join(dir, 'ca.key'), 0o600);
  await openssl(['req', '-x509', '-new', '-key', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-days', String(days), '-sha256', '-subj', '/O=fedmesh/CN=fedmesh development CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const hosts = options.coordinatorHosts ?? ['localhost'];
  const sans = [...hosts.map((h) => `DNS:${h}`), 'IP:127.0.0.1', 'IP:::1'];
  const made: string[] = ['ca.crt'];
  await issue(dir, 'coordinator', 'coordinator', sans, days);
  made.push('coordinator.crt');
  for (const a of options.agents) {
    await issue(dir, 'agent', a, [], days);
    made.push(`${certBaseName('agent', a)}.crt`);
  }
  for (const r of researchers) {
    await issue(dir, 'researcher', r, [], days);
    made.push(`${certBaseName('researcher', r)}.crt`);
  }
  for (const a of admins) {
    await issue(dir, 'admin', a, [], days);
    made.push(`${certBaseName('admin', a)}.crt`);
  }
  await rm(join(dir, 'ca.srl'), { force: true });
  return made;
}
