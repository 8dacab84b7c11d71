/**
 * The golden comparator: exact, order-sensitive equality of result JSON. Exact modes must match bit for bit and
 * seeded DP modes draw for draw, so numbers compare with `Object.is` (a 1-ulp change, −0 against 0 and NaN are all
 * told apart), arrays element by element, and objects by their key order as well as their values (a reordered key
 * changes what `--json` prints).
 */

/** A value as it is stored in a golden file: JSON, with the values JSON cannot carry tagged so none is lost. */
export function toGoldenValue(v: unknown): unknown {
  if (v === undefined) return { $undefined: true };
  if (typeof v === 'bigint') return { $bigint: v.toString() };
  if (typeof v === 'number') {
    if (Object.is(v, -0)) return { $number: '-0' };
    if (!Number.isFinite(v)) return { $number: String(v) };
    return v;
  }
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return v.map(toGoldenValue);
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toGoldenValue(x);
    return out;
  }
  return { $unsupported: typeof v };
}

function describe(v: unknown): string {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Units in the last place between two finite doubles of the same sign (for the message only). */
function ulps(a: number, b: number): string {
  const view = new DataView(new ArrayBuffer(16));
  view.setFloat64(0, a);
  view.setFloat64(8, b);
  const d = view.getBigInt64(0) - view.getBigInt64(8);
  return `${d < 0n ? -d : d} ulp`;
}

/**
 * Every difference between `expected` and `actual` (both golden values), one line each with its JSON path;
 * empty when they are identical. At most `limit` lines, so one broken case does not flood the report.
 */
export function goldenDiff(expected: unknown, actual: unknown, path = '$', limit = 40): string[] {
  const out: string[] = [];
  const walk = (e: unknown, a: unknown, p: string): void => {
    if (out.length >= limit) return;
    const ke = kindOf(e);
    const ka = kindOf(a);
    if (ke !== ka) {
      out.push(`${p}: expected ${ke} ${describe(e)}, got ${ka} ${describe(a)}`);
      return;
    }
    if (ke === 'number') {
      if (!Object.is(e, a)) {
        const n = e as number;
        const m = a as number;
        const far = Number.isFinite(n) && Number.isFinite(m) && Math.sign(n) === Math.sign(m) ? ` (${ulps(n, m)})` : '';
        out.push(`${p}: expected ${describe(e)}, got ${describe(a)}${far}`);
      }
      return;
    }
    if (ke === 'array') {
      const ea = e as unknown[];
      const aa = a as unknown[];
      if (ea.length !== aa.length) out.push(`${p}: expected ${ea.length} elements, got ${aa.length}`);
      for (let i = 0; i < Math.min(ea.length, aa.length); i++) walk(ea[i], aa[i], `${p}[${i}]`);
      return;
    }
    if (ke === 'object') {
      const eo = e as Record<string, unknown>;
      const ao = a as Record<string, unknown>;
      const ek = Object.keys(eo);
      const ak = Object.keys(ao);
      const missing = ek.filter((k) => !(k in ao));
      const extra = ak.filter((k) => !(k in eo));
      if (missing.length > 0) out.push(`${p}: missing keys ${missing.join(', ')}`);
      if (extra.length > 0) out.push(`${p}: unexpected keys ${extra.join(', ')}`);
      const common = ek.filter((k) => k in ao);
      const order = ak.filter((k) => k in eo);
      if (common.join('\u0000') !== order.join('\u0000')) out.push(`${p}: keys in another order: expected ${common.join(', ')}; got ${order.join(', ')}`);
      for (const k of common) walk(eo[k], ao[k], /^[A-Za-z_$][\w$]*$/.test(k) ? `${p}.${k}` : `${p}[${JSON.stringify(k)}]`);
      return;
    }
    if (e !== a) out.push(`${p}: expected ${describe(e)}, got ${describe(a)}`);
  };
  walk(expected, actual, path);
  return out;
}
