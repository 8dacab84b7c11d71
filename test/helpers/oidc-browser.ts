/**
 * A browser's part in the dashboard's OIDC sign-in, for HTTP-level tests: one HTTPS request at a time (no redirects
 * followed, trusting a given CA) and a cookie jar for the dashboard's origin. Test-only.
 */
import { request } from 'node:https';

export interface Res {
  status: number;
  location: string | undefined;
  setCookie: string[];
  body: string;
}

/** One HTTPS request, no redirects followed, trusting the mesh CA. */
export function call(url: string, ca: Buffer, o: { method?: string; cookie?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: o.method ?? 'GET', ca, headers: { accept: 'text/html', ...(o.cookie ? { cookie: o.cookie } : {}), ...(o.headers ?? {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, setCookie: res.headers['set-cookie'] ?? [], body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (o.body) req.write(o.body);
    req.end();
  });
}

/** A browser's cookie jar for the dashboard's origin (name → value; a Max-Age=0 cookie is removed). */
export class Jar {
  readonly cookies = new Map<string, string>();
  take(res: Res): void {
    for (const c of res.setCookie) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i);
      if (/;\s*Max-Age=0/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, pair!.slice(i + 1));
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}
