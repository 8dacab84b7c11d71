/**
 * How a released GLM looks: the rows and summary the coordinator releases (one row per term), the JSON object
 * the issue specifies (`coefficients: [{term, estimate, stdError, statistic, pValue, ci95}]` plus deviances, df,
 * AIC, iterations, nUsed, nDropped), and a plain-text table laid out like R's `summary(glm(...))`. Pure.
 * Numbers are shown to 4 significant digits each (R formats each column jointly, e.g. all in scientific notation
 * when one entry is tiny); the values are R's.
 */
import type { GlmSummary } from '../../algorithms/glm/index.js';

/** Released columns, in order (exp columns only for binomial and poisson). */
export const GLM_COLUMNS = ['term', 'estimate', 'stdError', 'statistic', 'pValue', 'ci95Lower', 'ci95Upper'] as const;
export const GLM_EXP_COLUMNS = ['expEstimate', 'expCi95Lower', 'expCi95Upper'] as const;

export interface GlmReleasedSummary {
  family: string;
  link: string;
  statisticName: 'z' | 't';
  dispersion: number;
  nullDeviance: number;
  dfNull: number;
  residualDeviance: number;
  dfResidual: number;
  aic: number;
  iterations: number;
  converged: boolean;
  nUsed: number;
  nDropped: number;
}

export interface GlmReleased {
  columns: string[];
  rows: Record<string, unknown>[];
  summary: GlmReleasedSummary;
  notes: string[];
}

/** The released shape of a fit (what a kind's release returns, privacy block aside). */
export function glmReleased(s: GlmSummary, extra: { nDropped: number; notes?: readonly string[] }): GlmReleased {
  const withExp = s.coefficients.some((c) => c.expEstimate !== undefined);
  const columns: string[] = [...GLM_COLUMNS, ...(withExp ? GLM_EXP_COLUMNS : [])];
  const rows = s.coefficients.map((c) => {
    const row: Record<string, unknown> = { term: c.term, estimate: c.estimate, stdError: c.stdError, statistic: c.statistic, pValue: c.pValue, ci95Lower: c.ci95[0], ci95Upper: c.ci95[1] };
    if (withExp) Object.assign(row, { expEstimate: c.expEstimate, expCi95Lower: c.expCi95?.[0], expCi95Upper: c.expCi95?.[1] });
    return row;
  });
  const notes = [...(extra.notes ?? [])];
  if (!s.converged) notes.push(`The algorithm did not converge in ${s.iterations} iterations (R: "glm.fit: algorithm did not converge").`);
  return {
    columns,
    rows,
    summary: {
      family: s.family,
      link: s.link,
      statisticName: s.statisticName,
      dispersion: s.dispersion,
      nullDeviance: s.nullDeviance,
      dfNull: s.dfNull,
      residualDeviance: s.residualDeviance,
      dfResidual: s.dfResidual,
      aic: s.aic,
      iterations: s.iterations,
      converged: s.converged,
      nUsed: s.nUsed,
      nDropped: extra.nDropped,
    },
    notes,
  };
}

export interface GlmJsonCoefficient {
  term: string;
  estimate: number;
  stdError: number;
  statistic: number;
  pValue: number;
  ci95: [number, number];
  expEstimate?: number;
  expCi95?: [number, number];
}

/** The `--json` object. */
export function glmJson(r: GlmReleased): GlmReleasedSummary & { coefficients: GlmJsonCoefficient[]; notes: string[] } {
  const coefficients = r.rows.map((row) => {
    const c: GlmJsonCoefficient = {
      term: String(row.term),
      estimate: Number(row.estimate),
      stdError: Number(row.stdError),
      statistic: Number(row.statistic),
      pValue: Number(row.pValue),
      ci95: [Number(row.ci95Lower), Number(row.ci95Upper)],
    };
    if (row.expEstimate !== undefined) {
      c.expEstimate = Number(row.expEstimate);
      c.expCi95 = [Number(row.expCi95Lower), Number(row.expCi95Upper)];
    }
    return c;
  });
  return { ...r.summary, coefficients, notes: r.notes };
}

/** R's `format(x, digits = 4)`-like: 4 significant digits, scientific when that is shorter or |x| is tiny/huge. */
export function formatSig(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'NaN' : x > 0 ? 'Inf' : '-Inf';
  if (x === 0) return '0';
  const fixed = Number(x.toPrecision(digits)).toString();
  const sci = x.toExponential(digits - 1).replace(/e([+-])(\d)$/, 'e$10$2');
  return Math.abs(x) < 1e-4 || Math.abs(x) >= 1e15 || sci.length < fixed.length ? sci : fixed;
}

/** As printCoefmat shows p-values (format.pval, 3 significant digits): `<2e-16` below machine epsilon. */
export function formatPValue(p: number): string {
  if (Number.isNaN(p)) return 'NaN';
  if (p < 2.220446049250313e-16) return '<2e-16';
  return formatSig(p, 3);
}

function stars(p: number): string {
  if (!(p <= 1)) return '';
  return p < 0.001 ? '***' : p < 0.01 ? '**' : p < 0.05 ? '*' : p < 0.1 ? '.' : '';
}

/** Columns right-aligned except the first (term names) and, with `starsLast`, the last (significance stars). */
function table(header: string[], body: string[][], starsLast = false): string[] {
  const widths = header.map((h, j) => Math.max(h.length, ...body.map((r) => r[j]!.length)));
  const left = (j: number): boolean => j === 0 || (starsLast && j === header.length - 1);
  const line = (cells: string[]): string => cells.map((c, j) => (left(j) ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join(' ').trimEnd();
  return [line(header), ...body.map(line)];
}

/** Plain-text rendering in the layout of R's `summary(glm(...))`, followed by the 95 % Wald intervals. */
export function renderGlmTable(r: GlmReleased): string {
  const s = r.summary;
  const st = s.statisticName;
  const out: string[] = [];
  out.push(`Family: ${s.family}   Link: ${s.link}`, '', 'Coefficients:');
  const body = r.rows.map((row) => [String(row.term), formatSig(Number(row.estimate)), formatSig(Number(row.stdError)), Number(row.statistic).toFixed(3), formatPValue(Number(row.pValue)), stars(Number(row.pValue))]);
  out.push(...table(['', 'Estimate', 'Std. Error', `${st} value`, `Pr(>|${st}|)`, ''], body, true));
  out.push('---', "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1", '');
  out.push(s.family === 'gaussian' ? `(Dispersion parameter for gaussian family taken to be ${formatSig(s.dispersion, 7)})` : `(Dispersion parameter for ${s.family} family taken to be 1)`, '');
  const nd = formatSig(s.nullDeviance, 6);
  const rd = formatSig(s.residualDeviance, 6);
  const w = Math.max(nd.length, rd.length);
  out.push(`    Null deviance: ${nd.padStart(w)}  on ${s.dfNull}  degrees of freedom`);
  out.push(`Residual deviance: ${rd.padStart(w)}  on ${s.dfResidual}  degrees of freedom`);
  out.push(`AIC: ${formatSig(s.aic, 5)}`, '', `Number of Fisher Scoring iterations: ${s.iterations}`, '');
  out.push(`n used: ${s.nUsed}   n dropped (missing, out-of-list level or invalid value): ${s.nDropped}`, '');
  const hasExp = r.columns.includes('expEstimate');
  const ciHeader = hasExp ? ['', '2.5 %', '97.5 %', s.family === 'binomial' ? 'Odds ratio' : 'Rate ratio', '2.5 %', '97.5 %'] : ['', '2.5 %', '97.5 %'];
  const ciBody = r.rows.map((row) => {
    const cells = [String(row.term), formatSig(Number(row.ci95Lower)), formatSig(Number(row.ci95Upper))];
    if (hasExp) cells.push(formatSig(Number(row.expEstimate)), formatSig(Number(row.expCi95Lower)), formatSig(Number(row.expCi95Upper)));
    return cells;
  });
  out.push(`95 % Wald confidence intervals (${st === 't' ? `t on ${s.dfResidual} df` : 'normal'}):`, ...table(ciHeader, ciBody));
  if (r.notes.length > 0) out.push('', ...r.notes.map((n) => `Note: ${n}`));
  return out.join('\n');
}
