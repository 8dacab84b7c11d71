/**
 * HTML built by a tagged template that escapes every interpolated value unless it is already {@link SafeHtml}:
 * product names, job names, group keys and Circe names all reach the page as text, never as markup. The only way
 * to insert markup is `trustedSvg` for the SVG vega renders on the server (vega escapes the text it draws).
 */

export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

function piece(v: unknown): string {
  if (v instanceof SafeHtml) return v.value;
  if (v === null || v === undefined || v === false) return '';
  if (Array.isArray(v)) return v.map(piece).join('');
  return escapeHtml(String(v));
}

/** `html\`<td>${name}</td>\`` → SafeHtml with `name` escaped; arrays are joined, null/undefined/false render nothing. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += piece(v) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

/**
 * An SVG document rendered by vega on the server, to inline in a page. The XML prolog is dropped; anything that is
 * not one `<svg …>…</svg>` element, or that carries a script or an event handler, is refused rather than inlined.
 * @throws Error when the SVG is not what vega produces
 */
export function trustedSvg(svg: string): SafeHtml {
  const s = svg.replace(/^<\?xml[^>]*\?>\s*/, '').trim();
  if (!s.startsWith('<svg') || !s.endsWith('</svg>') || hasActiveMarkup(s)) throw new Error('refusing to inline an unexpected SVG');
  return new SafeHtml(s);
}

/**
 * Whether markup could run script: a script-capable element, or an event-handler or javascript: attribute. Quoted
 * attribute values are looked through, so escaped text in a label (`aria-label="&lt;img onerror=…"`) is not a hit.
 */
export function hasActiveMarkup(markup: string): boolean {
  if (/<(script|foreignObject|iframe|object|embed)\b/i.test(markup)) return true;
  for (const m of markup.matchAll(/<[a-zA-Z][^>]*>/g)) {
    const bare = m[0].replace(/"[^"]*"|'[^']*'/g, '""');
    if (/\son[a-z]+\s*=/i.test(bare)) return true;
  }
  return /<[^>]*\s(href|src|xlink:href)\s*=\s*["']?\s*javascript:/i.test(markup);
}

/** Numbers as a researcher reads them: integers with separators, reals to 4 significant digits. */
export function fmt(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    // No thousands separators: integers here are as often concept ids (8507) as counts.
    if (Number.isInteger(v)) return String(v);
    return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e7 ? String(Number(v.toPrecision(4))) : v.toExponential(3);
  }
  if (Array.isArray(v)) return `[${v.map(fmt).join(', ')}]`;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** A timestamp in ms since the epoch, as ISO 8601 UTC to the second (or — when absent). */
export function when(ms: number | undefined): string {
  return ms ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : '—';
}
