/**
 * The Cox result as R's `summary(coxph(...))` prints it: the coefficient table, the exp(coef) table with its 95 %
 * confidence interval, and the three global tests. Plain text, for the CLI (the dashboard renders the same rows).
 */

type Row = Record<string, unknown>;
interface Test {
  statistic: number | null;
  df: number;
  pValue: number | null;
}

/** R-style number: `digits` significant digits, no trailing zeros; '—' when missing. */
function num(v: unknown, digits = 4): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  if (v !== 0 && (Math.abs(v) < 1e-4 || Math.abs(v) >= 1e6)) return v.toExponential(digits - 1);
  return String(Number(v.toPrecision(digits)));
}

/** p-values as R's format.pval: below 2e-16 printed as "<2e-16". */
function pval(v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  return v < 2e-16 ? '<2e-16' : num(v, 3);
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

function testLine(label: string, t: unknown): string {
  const x = t as Test | undefined;
  return `${label.padEnd(21)}= ${num(x?.statistic, 4)}  on ${x?.df ?? '—'} df,   p=${pval(x?.pValue)}`;
}

/** Renders a released Cox result (rows and summary as `coxKind.release` makes them). */
export function coxView(result: { columns: string[]; rows: Row[]; summary?: Record<string, unknown>; notes: string[] }): string {
  const s = result.summary ?? {};
  const coef = table(
    ['', 'coef', 'exp(coef)', 'se(coef)', 'z', 'Pr(>|z|)'],
    result.rows.map((r) => [String(r.term), num(r.coef), num(r['exp(coef)']), num(r['se(coef)']), num(r.z, 3), pval(r['Pr(>|z|)'])]),
  );
  const ci = table(
    ['', 'exp(coef)', 'exp(-coef)', 'lower .95', 'upper .95'],
    result.rows.map((r) => [String(r.term), num(r['exp(coef)']), num(typeof r.coef === 'number' ? Math.exp(-r.coef) : null), num(r['lower .95']), num(r['upper .95'])]),
  );
  const rsq = s.rsquare as { value: number; max: number } | null | undefined;
  return [
    `Cox proportional hazards, ties = "breslow"${Array.isArray(s.strata) && s.strata.length > 1 ? `, strata: ${(s.strata as string[]).join(', ')}` : ''}`,
    `  n= ${num(s.n, 12)}, number of events= ${num(s.events, 12)}`,
    '',
    coef,
    '',
    ci,
    '',
    ...(rsq ? [`Rsquare= ${num(rsq.value, 3)}   (max possible= ${num(rsq.max, 3)} )`] : []),
    testLine('Likelihood ratio test', s.likelihoodRatio),
    testLine('Wald test', s.wald),
    testLine('Score (logrank) test', s.score),
    ...result.notes.map((n) => `note: ${n}`),
  ].join('\n');
}
