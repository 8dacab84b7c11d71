/**
 * The few HTTPS calls the browser sign-in makes to the identity provider (its discovery document and its token
 * endpoint): Node's `https` with the same optional private CA as the JWKS, a bounded JSON body, a timeout, and no
 * redirects (a redirect would move trust off the configured issuer). Only https URLs are called.
 */
import { request } from 'node:https';
import { FedmeshError } from '../common/errors.js';

export interface IdpHttpOptions {
  /** Trusted CA certificates (PEM) of the identity provider. @default Node's public roots */
  ca?: Buffer | undefined;
  /** Largest response body read. @default 262144 */
  maxBytes?: number;
  /** @default 5000 */
  timeoutMs?: number;
}

export interface IdpResponse {
  status: number;
  body: unknown;
}

function unreachable(why: string, cause?: unknown): FedmeshError {
  return new FedmeshError('UNAUTHENTICATED', `sign-in failed: the identity provider ${why}; try again`, cause === undefined ? {} : { cause });
}

/** One JSON request. @throws FedmeshError UNAUTHENTICATED when the provider cannot be reached or answers with no JSON */
export function idpJson(url: URL, init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string }, o: IdpHttpOptions = {}): Promise<IdpResponse> {
  if (url.protocol !== 'https:') return Promise.reject(unreachable('URL is not https'));
  const maxBytes = o.maxBytes ?? 256 * 1024;
  return new Promise<IdpResponse>((resolve, reject) => {
    const req = request(url, { method: init.method, headers: { accept: 'application/json', ...(init.headers ?? {}) }, timeout: o.timeoutMs ?? 5000, ...(o.ca ? { ca: o.ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) {
          res.destroy();
          reject(unreachable(`answered with more than ${maxBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 500, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
        } catch (e) {
          reject(unreachable(`answered ${res.statusCode ?? '?'} without JSON`, e));
        }
      });
      res.on('error', (e) => reject(unreachable('connection failed', e)));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => reject(unreachable('could not be reached', e)));
    if (init.body !== undefined) req.write(init.body);
    req.end();
  });
}
