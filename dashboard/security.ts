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
  // Not no-referrer: with it Chromium sends `Origin: null` on our own form posts.
  'Referrer-Policy': 'same-origin',
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
 * Whether a state-changing request comes from another site by what the browser says: a Sec-Fetch-Site other than
 * same-origin (or none: typed by the user), or, from browsers that do not send it, an Origin whose host is not the
 * Host we were asked on. Requests with neither header (non-browser clients) still need the token.
 */
export function crossSite(headers: { get(name: string): string | null }): boolean {
  // Sec-Fetch-Site is set by the browser and cannot be set by a page: when present it decides.
  const site = headers.get('sec-fetch-site');
  if (site !== null) return site !== 'same-origin' && site !== 'none';
  const origin = headers.get('origin');
  if (origin === null) return false;
  if (origin === 'null') return true;
  try {
    return new URL(origin).host !== headers.get('host');
  } catch {
    return true;
  }
}
