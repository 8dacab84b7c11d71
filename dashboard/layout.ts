/** The page shell: skip link, navigation (the current page marked for screen readers), who is signed in. */
import type { Principal } from '../coordinator/principal.js';
import { html, type SafeHtml } from './html.js';
import { CSRF_FIELD } from './security.js';

export const NAV = [
  { href: '/', label: 'Mesh', id: 'mesh' },
  { href: '/catalog', label: 'Catalog', id: 'catalog' },
  { href: '/jobs', label: 'Jobs', id: 'jobs' },
  { href: '/charts', label: 'Charts', id: 'charts' },
  { href: '/budget', label: 'Budget', id: 'budget' },
  { href: '/submit', label: 'Submit', id: 'submit' },
  { href: '/audit', label: 'Audit', id: 'audit' },
] as const;

export type PageId = (typeof NAV)[number]['id'] | 'job' | 'error';

export interface PageOptions {
  title: string;
  active: PageId;
  principal: Principal | undefined;
  /** Attributes for <main> the script reads (a job page: its id and state). */
  jobId?: string;
  jobState?: string;
  /** A signed-in (OIDC) user's CSRF token: the header gets a Sign out button. */
  signOutToken?: string;
}

export function page(opts: PageOptions, body: SafeHtml | SafeHtml[]): SafeHtml {
  const p = opts.principal;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${opts.title} · fedmesh</title>
<link rel="stylesheet" href="/static/dashboard.css">
<script src="/static/dashboard.js" defer></script>
</head>
<body>
<a class="skip" href="#content">Skip to content</a>
<header>
<span class="brand">fedmesh</span>
<nav aria-label="Main"><ul>${NAV.map((n) => html`<li><a href="${n.href}"${n.id === opts.active ? html` aria-current="page"` : ''}>${n.label}</a></li>`)}</ul></nav>
${p ? html`<span class="who">signed in as <strong>${p.name}</strong>${p.isAdmin ? ' (administrator)' : ''}</span>` : ''}
${opts.signOutToken ? html`<form class="signout" method="post" action="/logout"><input type="hidden" name="${CSRF_FIELD}" value="${opts.signOutToken}"><button type="submit">Sign out</button></form>` : ''}
</header>
<main id="content"${opts.jobId ? html` data-job-id="${opts.jobId}" data-job-state="${opts.jobState ?? ''}"` : ''}>
<h1>${opts.title}</h1>
${body}
</main>
</body>
</html>
`;
}
