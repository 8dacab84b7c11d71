/**
 * The dashboard's browser-facing defences, in one place: response headers (a strict Content-Security-Policy with
 * no inline script or style, no framing, no sniffing, no caching of pages with results) and CSRF protection.
 *
 * CSRF matters here because the browser authenticates with a client certificate it presents to any page that
 * posts to us. Every form therefore carries a token only our own pages can read: an HMAC, under a per-process
 * secret, of who the caller is; a cross-site page cannot compute it. Independently, a POST whose Origin (or
 * Sec-Fetch-Site) says it came from another site is refused before the token is looked at.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal } from '../coordinator/principal.js';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Headers on every response. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** The form field that carries the token. */
export const CSRF_FIELD = '_csrf';

export class CsrfTokens {
  private readonly secret: Buffer;
  constructor(secret?: Buffer) {
    this.secret = secret ?? randomBytes(32);
  }

  /** The token of `p`'s forms: stable for the process, different for every caller. */
  tokenFor(p: Principal): string {
    return createHmac('sha256', this.secret).update(`csrf\0${p.authenticatedBy ?? 'certificate'}\0${p.isAdmin ? 'admin' : 'researcher'}\0${p.name}`).digest('base64url');
  }

  /** Whether `token` is `p`'s (constant time). */
  check(p: Principal, token: unknown): boolean {
    if (typeof token !== 'string' || token.length > 100) return false;
    const want = Buffer.from(this.tokenFor(p));
    const got = Buffer.from(token);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

/**
 * Whether a state-changing request comes from our own origin by what the browser says: a Sec-Fetch-Site other
 * than same-origin, or an Origin whose host is not the Host we were asked on, is cross-site. Requests without
 * either header (non-browser clients) still need the token.
 */
export function crossSite(headers: { get(name: string): string | null }): boolean {
  const site = headers.get('sec-fetch-site');
  if (site !== null && site !== 'same-origin' && site !== 'none') return true;
  const origin = headers.get('origin');
  if (origin === null) return false;
  if (origin === 'null') return true;
  try {
    return new URL(origin).host !== headers.get('host');
  } catch {
    return true;
  }
}
