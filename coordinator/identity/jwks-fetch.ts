/**
 * The HTTPS fetch the JWKS client uses: Node's own `https` with an optional private CA (hospital identity providers
 * often sit behind an internal PKI), a bounded body (a JWKS is a few KiB; a hostile or broken endpoint must not
 * fill the heap) and no redirects (a redirect to another host would move trust off the configured URL).
 */
import { request } from 'node:https';

export interface JwksFetchOptions {
  /** Trusted CA certificates (PEM) for the JWKS endpoint. @default Node's public roots */
  ca?: Buffer;
  /** Largest JWKS body read. @default 262144 */
  maxBytes?: number;
}

export type FetchLike = (url: string, init: { headers?: Headers | Record<string, string>; signal?: AbortSignal }) => Promise<Response>;

export function createJwksFetch(o: JwksFetchOptions = {}): FetchLike {
  const maxBytes = o.maxBytes ?? 256 * 1024;
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const headers: Record<string, string> = {};
      new Headers(init.headers ?? {}).forEach((v, k) => (headers[k] = v));
      const req = request(url, { method: 'GET', headers, ...(o.ca ? { ca: o.ca } : {}), ...(init.signal ? { signal: init.signal } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            res.destroy();
            reject(new Error(`the JWKS response is larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
          resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500, headers: h }));
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
}
