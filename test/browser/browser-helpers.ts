/**
 * Headless Chromium for the dashboard's browser tests: Debian's /usr/bin/chromium driven by playwright-core, with a
 * client certificate per context (the dashboard authenticates browsers as the gRPC API does). Screenshots go to
 * test/browser/artifacts/ (gitignored), kept as test artifacts.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext } from 'playwright-core';
import { certBaseName, type Role } from '../../common/tls.js';

export const CHROMIUM = process.env.FEDMESH_CHROMIUM ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
export const ARTIFACTS = join(fileURLToPath(new URL('.', import.meta.url)), 'artifacts');

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
}

/** A browser context presenting `role`/`name`'s certificate to `origin` (the dev CA is not a public root). */
export function contextAs(browser: Browser, origin: string, tlsDir: string, role: Role, name: string): Promise<BrowserContext> {
  const base = certBaseName(role, name);
  return browser.newContext({
    ignoreHTTPSErrors: true,
    acceptDownloads: true,
    clientCertificates: [{ origin, certPath: join(tlsDir, `${base}.crt`), keyPath: join(tlsDir, `${base}.key`) }],
  });
}

/** WCAG 2.x contrast ratio of two CSS rgb()/rgba() colours (alpha ignored: the page paints on white). */
export function contrastRatio(fg: string, bg: string): number {
  const lum = (css: string): number => {
    const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)/.exec(css);
    if (!m) throw new Error(`not an rgb colour: ${css}`);
    const [r, g, b] = [m[1], m[2], m[3]].map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  };
  const [a, b] = [lum(fg), lum(bg)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}
