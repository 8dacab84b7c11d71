/**
 * The demo's dashboard: the coordinator serves it (`--dashboard-listen 127.0.0.1:0`), and with `--keep` the demo
 * leaves the mesh running so a person can click around. A browser needs the researcher's client certificate: it
 * is exported as a PKCS#12 file to import, and the development CA is not a public root (the browser warns once).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** Password of the demo's PKCS#12 file: a development certificate of a throw-away mesh, not a secret. */
export const DEMO_P12_PASSWORD = 'fedmesh-demo';

/** Writes `tlsDir/researcher.p12` (certificate, key and CA) for a browser to import; returns its path. */
export async function exportBrowserCertificate(tlsDir: string): Promise<string> {
  const out = join(tlsDir, 'researcher.p12');
  await promisify(execFile)('openssl', ['pkcs12', '-export', '-in', join(tlsDir, 'researcher-researcher.crt'), '-inkey', join(tlsDir, 'researcher-researcher.key'), '-certfile', join(tlsDir, 'ca.crt'), '-out', out, '-passout', `pass:${DEMO_P12_PASSWORD}`, '-name', 'fedmesh demo researcher']);
  return out;
}

/** How to open the dashboard, as the demo prints it. */
export function dashboardLines(url: string, p12?: string): string[] {
  return [
    `dashboard: ${url}`,
    ...(p12 ? [`  import ${p12} (password ${DEMO_P12_PASSWORD}) into your browser as a client certificate; the development CA is not a public root, so accept the certificate warning once`] : ['  (run with --keep to leave the mesh up and click around)']),
  ];
}
