import { FedmeshError } from '../../common/errors.js';
import { isIntegerType } from '../../algorithms/aggregate/index.js';
import { gridRange } from '../../algorithms/dp/index.js';
import { checkAggregateAgainstSchema, findColumn, type SchemaProduct, MAX_DATA_KEY_CHARS } from '../../common/job/index.js';
import type { AggregatePrivacyPlan, AgentMeasureLayout, AggregateJob, Filter, Scalar } from '../../common/job/index.js';
import type { ProductInfo } from '../data/products.js';
import { quoteIdent } from '../data/database.js';
import { linkageBoundingSql } from '../linkage/linkage-sql.js';
import { duckdbDialect, SQL_TYPES, tempTableStatements, type SqlDialect, type SqlType } from '../sql/index.js';

export interface AggregatePlan {
  /**
   * Materialises the job's rows (after filters and contribution bounding) as a temp table `{t}`: group keys `k<i>`,
   * measure inputs `m<i>`/`c<i>`, bin indexes `b<i>`, and `u` = the privacy unit when the product has one.
   */
  rowsStatements: (table: string) => { sql: string; params: (string | number | boolean)[] }[];
  rowsParams: (string | number | boolean)[];
  /** The sufficient statistics per group over the temp table `{t}`; `persons` = distinct privacy units. */
  statsSql: (table: string) => string;
  statsParams: (string | number | boolean)[];
  /** The same statistics in one statement without a temp table (when nothing else reads the rows: the DP modes). */
  inlineSql: string;
  inlineParams: (string | number | boolean)[];
  /**
   * Measures whose bins are cells of persons in mode none (histograms and quantile buckets: red team 30, F1, a
   * quantile at (i + 0.5)/n read every value of a k-person group off buckets never checked): their measure indexes.
   */
  histogramMeasures: number[];
  /** Sum, mean and variance measures (their clamped, centred values are in column c<i> of the rows, NULL when missing). */
  momentMeasures: number[];
  keyCount: number;
  layout: AgentMeasureLayout[];
  /** Whether contribution bounding per privacy unit was applied. */
  bounded: boolean;
  /** Whether rows carry the privacy unit `u` (and `persons` is counted). */
  hasUnit: boolean;
  /** The engine the SQL is written for. */
  dialect: SqlDialect;
  /** The bin counts of histogram/quantile measure `i` from a statistics row. */
  readBins(row: Record<string, unknown>, i: number): bigint[];
}

export interface PlanOptions {
  /** Agent-secret salt for the keyed hash that picks which k rows of a person count (not "first k"). */
  salt: string;
  /** The engine the product lives in (a site's PostgreSQL: the whole job runs there). @default duckdbDialect */
  dialect?: SqlDialect;
}

/**
 * A value clamped to [lo, hi] that stays NULL when it is NULL: DuckDB's `greatest` skips NULL arguments, so a bare
 * `least(greatest(x, lo), hi)` turns a missing value into `lo` and it would count in sums, means and quantiles.
 */
export function clampSql(x: string, lo: string, hi: string): string {
  return `CASE WHEN ${x} IS NULL THEN NULL ELSE least(greatest(${x}, ${lo}), ${hi}) END`;
}

/** SQL of a group's cell label from its key columns: the same text for the same key, on every query of a job. */
/**
 * The per-row bounds in grid units that a DP plan calibrated its noise for: the bounded sum uses [lower, upper]
 * (center 0); mean and variance use ±(upper/2 − lower/2) around the center and [0, halfWidth²] for squares
 * (see planBoundedSum and planMeanVariance), each rounded outward to whole grid units.
 */
const grid = (exponent: number): { exponent: number; size: number } => ({ exponent, size: 2 ** exponent });

export function dpRowRange(l: Extract<AgentMeasureLayout, { kind: 'moments' }>): { lo: bigint; hi: bigint; sqHi: bigint } {
  const hw = l.center === 0 ? Math.max(-l.lower, l.upper) : l.upper / 2 - l.lower / 2;
  const { lo, hi } = l.center === 0 ? gridRange(l.lower, l.upper, grid(-l.scaleBits)) : gridRange(-hw, hw, grid(-l.scaleBits));
  const sqHi = l.squares ? gridRange(0, hw * hw, grid(-l.sqScaleBits)).hi : 0n;
  return { lo, hi, sqHi };
}

export function groupLabelSql(keyCount: number, d: SqlDialect = duckdbDialect): string {
  return keyCount === 0 ? `'[]'` : d.jsonTextArray(Array.from({ length: keyCount }, (_, i) => d.cast(`k${i}`, 'VARCHAR')));
}

/**
 * One `where` filter as SQL over the product's own column (checked to exist), every value a bound parameter cast
 * to the column's type through `param`. Shared by the kinds that take `where` filters.
 * @throws FedmeshError INVALID_JOB naming `${field}.column` for an unknown column
 */
export function filterSql(f: Filter, product: SchemaProduct, field: string, param: (v: string | number | boolean, castTo?: string) => string, d: SqlDialect = duckdbDialect): string {
  const col = findColumn(product, f.column, `${field}.column`);
  const type = col.type.toUpperCase();
  const col0 = d.quoteIdent(col.name);
  // Text compares by its bytes on every engine (DuckDB's only order and equality): a server's collation may put
  // 'a' < 'B', or equate 'alice' and 'Alice' (a nondeterministic ICU collation). Cast first: a server column the
  // catalogue publishes as VARCHAR may be a uuid or an enum, which take no collation (red team 4, F4 and F5).
  const text = type === 'VARCHAR';
  // Integer values bind as BIGINT on every engine: a value beyond an INTEGER column's range compares (and matches
  // nothing) instead of failing the cast on one engine and not the other.
  const pt = isIntegerType(type) && type !== 'BOOLEAN' ? 'BIGINT' : type;
  // An explicit collation on one side decides the comparison: the bound values need none.
  const c = text ? d.binaryOrder(d.cast(col0, 'VARCHAR')) : col0;
  switch (f.op) {
    case 'is null':
      return `${col0} IS NULL`;
    case 'is not null':
      return `${col0} IS NOT NULL`;
    case 'in':
      return `${c} IN (${(f.value as Scalar[]).map((v) => param(v, pt)).join(', ')})`;
    case 'between': {
      const [lo, hi] = f.value as [Scalar, Scalar];
      return `${c} BETWEEN ${param(lo, pt)} AND ${param(hi, pt)}`;
    }
    default:
      return `${c} ${f.op === '!=' ? '<>' : f.op} ${param(f.value as Scalar, pt)}`;
  }
}

/**
 * Builds the agent-side SQL of an `aggregate` job: exact sufficient statistics per group, on the grids of the
 * privacy plan, every value bound as a parameter. Identifiers come only from the agent's own schema (validated
 * here); nothing from outside becomes SQL text. Rows whose privacy unit is NULL are left out in every mode; in the
 * DP modes each privacy unit contributes at most k rows, chosen by a keyed hash of the row. The rows are materialised once
 * (`rowsSql`) so that the statistics, the distinct persons per cell and the person sets of released cells all
 * come from the same rows.
 * @throws FedmeshError INVALID_JOB naming the field (unknown column, wrong type)
 */
export function planAggregate(job: AggregateJob, product: ProductInfo, privacy: AggregatePrivacyPlan, options: PlanOptions): AggregatePlan {
  checkAggregateAgainstSchema(job, product);
  const d = options.dialect ?? duckdbDialect;
  /** A logical type name (a column's declared type, or HUGEINT) in this engine's spelling. */
  const cast = (x: string, t: string): string => d.cast(x, ((SQL_TYPES as readonly string[]).includes(t) || t === 'HUGEINT' ? t : 'VARCHAR') as SqlType);
  const rowsParams: (string | number | boolean)[] = [];
  const statsParams: (string | number | boolean)[] = [];
  const param = (list: (string | number | boolean)[]) => (v: string | number | boolean, castTo?: string): string => {
    list.push(v);
    return castTo ? cast(d.placeholder(list.length), castTo) : d.placeholder(list.length);
  };
  const p = param(rowsParams);
  // Statistics placeholders are numbered when the statement is composed (after the row parameters, or from 1).
  const po = (v: string | number | boolean, castTo: string): string => {
    statsParams.push(v);
    return cast(`$@${statsParams.length}@`, castTo);
  };
  const numberStats = (sql: string, offset: number): string => sql.replace(/\$@(\d+)@/g, (_, n: string) => d.placeholder(Number(n) + offset));
  const where: string[] = [];
  job.where.forEach((f: Filter, i) => where.push(filterSql(f, product, `where[${i}]`, p, d)));

  const inner: string[] = [];
  /** Bin indexes, computed on the inner columns in a second projection. */
  const bins: string[] = [];
  const keys: string[] = [];
  /** How the groups are ordered: text keys by their bytes, so every engine sends the groups in one order. */
  const orderKeys: string[] = [];
  job.groupBy.forEach((g, i) => {
    const col = findColumn(product, g, `groupBy[${i}]`);
    const t = col.type.toUpperCase();
    const publicKeys = job.groupKeys?.[g];
    // Compared and grouped by its bytes: a server column's collation may order or even equate texts otherwise
    // (a case-insensitive ICU collation merges 'alice' and 'Alice'; DuckDB never does).
    const text = d.binaryOrder(d.cast(quoteIdent(col.name), 'VARCHAR'));
    // Data-derived text keys: truncated to the public MAX_DATA_KEY_CHARS before grouping (group-limits.ts).
    const isText = !(isIntegerType(t) || t === 'BOOLEAN' || t === 'DOUBLE');
    const expr = isIntegerType(t) && t !== 'BOOLEAN' ? d.cast(quoteIdent(col.name), 'BIGINT') : t === 'BOOLEAN' || t === 'DOUBLE' ? cast(quoteIdent(col.name), t) : publicKeys ? text : `left(${text}, ${MAX_DATA_KEY_CHARS})`;
    inner.push(`${expr} AS k${i}`);
    keys.push(`k${i}`);
    orderKeys.push(isText ? d.binaryOrder(`k${i}`) : `k${i}`);
    if (publicKeys) where.push(`${t === 'VARCHAR' ? text : quoteIdent(col.name)} IN (${publicKeys.map((v) => p(v, t)).join(', ')})`);
  });

  const outer: string[] = [...keys, `${d.cast('count(*)', 'BIGINT')} AS count`];
  const histogramMeasures: number[] = [];
  const momentMeasures: number[] = [];
  const histograms = new Map<number, ReturnType<SqlDialect['histogram']>>();
  privacy.layout.forEach((l, i) => {
    const m = job.measures[i]!;
    if (l.kind === 'count' || m.fn === 'count') return;
    const c = d.cast(quoteIdent(m.column), 'DOUBLE');
    // Histograms and quantile buckets: each row's bin index by a balanced comparison tree (O(log bins) per row),
    // then one histogram aggregate per group (DuckDB: a map bin → count, O(rows) whatever the number of bins).
    if (l.kind === 'histogram' && m.fn === 'quantile' && l.buckets) {
      // Bucket 0: x < c0; bucket j: c_{j-1} ≤ x < c_j; last: x ≥ c_last (values clamped to the bounds first).
      const x = clampSql(c, p(l.buckets.lower, 'DOUBLE'), p(l.buckets.upper, 'DOUBLE'));
      const cs = l.buckets.candidates.map((v) => p(v, 'DOUBLE'));
      const tree = (lo: number, hi: number): string => {
        if (lo === hi) return String(lo);
        const mid = (lo + hi + 1) >> 1;
        return `CASE WHEN m${i} < ${cs[mid - 1]} THEN ${tree(lo, mid - 1)} ELSE ${tree(mid, hi)} END`;
      };
      inner.push(`${x} AS m${i}`);
      bins.push(`CASE WHEN m${i} IS NULL THEN NULL ELSE ${tree(0, cs.length)} END AS b${i}`);
      const h = d.histogram(`b${i}`, l.bins);
      histograms.set(i, h);
      outer.push(...h.select(`m${i}_hist`));
      histogramMeasures.push(i);
      return;
    }
    if (l.kind === 'histogram' && m.fn === 'histogram') {
      // Bins [e_b, e_{b+1}), the last one closed; values outside the edges (or NULL) are not counted.
      const e = m.bins.map((v) => p(v, 'DOUBLE'));
      const k = m.bins.length - 1;
      const tree = (lo: number, hi: number): string => {
        if (hi - lo === 1) return String(lo);
        const mid = (lo + hi) >> 1;
        return `CASE WHEN m${i} < ${e[mid]} THEN ${tree(lo, mid)} ELSE ${tree(mid, hi)} END`;
      };
      inner.push(`${c} AS m${i}`);
      bins.push(`CASE WHEN m${i} IS NULL OR m${i} < ${e[0]} OR m${i} > ${e[k]} THEN NULL ELSE ${tree(0, k)} END AS b${i}`);
      const h = d.histogram(`b${i}`, l.bins);
      histograms.set(i, h);
      outer.push(...h.select(`m${i}_hist`));
      histogramMeasures.push(i);
      return;
    }
    if (l.kind !== 'moments') return;
    momentMeasures.push(i);
    const centred = `(${clampSql(c, p(l.lower, 'DOUBLE'), p(l.upper, 'DOUBLE'))} - ${p(l.center, 'DOUBLE')})`;
    inner.push(`${centred} AS c${i}`);
    const halfSq = l.center === 0 ? Math.max(l.lower * l.lower, l.upper * l.upper) : ((l.upper - l.lower) / 2) ** 2;
    let onGrid = d.roundToInteger(`c${i} * ${po(2 ** l.scaleBits, 'DOUBLE')}`);
    // Placeholders are numbered as they are created: create those of the squares only when they are used.
    // least() skips NULL: the CASE keeps a missing value missing instead of adding the bound (issue 14 #1).
    let sqOnGrid = l.squares ? `CASE WHEN c${i} IS NULL THEN NULL ELSE ${d.roundToInteger(`least(c${i} * c${i}, ${po(halfSq, 'DOUBLE')}) * ${po(2 ** l.sqScaleBits, 'DOUBLE')}`)} END` : '';
    if (privacy.mode !== 'none') {
      // Re-clamp after rounding, in grid units, to exactly the per-row bounds the noise was calibrated for (the
      // plan's, from its own arithmetic): whatever the floating-point path here, no row exceeds the sensitivity.
      const r = dpRowRange(l);
      // least/greatest skip NULL: keep a missing value missing (issue 14 #1).
      onGrid = `CASE WHEN c${i} IS NULL THEN NULL ELSE least(greatest(${onGrid}, ${po(r.lo.toString(), 'HUGEINT')}), ${po(r.hi.toString(), 'HUGEINT')}) END`;
      if (l.squares) sqOnGrid = `CASE WHEN c${i} IS NULL THEN NULL ELSE least(greatest(${sqOnGrid}, ${d.cast('0', 'HUGEINT')}), ${po(r.sqHi.toString(), 'HUGEINT')}) END`;
    }
    outer.push(
      `${d.cast(`count(c${i})`, 'BIGINT')} AS m${i}_n`,
      `${d.cast(`coalesce(sum(${onGrid}), 0)`, 'HUGEINT')} AS m${i}_sum`,
      l.squares ? `${d.cast(`coalesce(sum(${sqOnGrid}), 0)`, 'HUGEINT')} AS m${i}_sumsq` : `${d.cast('0', 'HUGEINT')} AS m${i}_sumsq`,
    );
  });

  const dpMode = privacy.mode !== 'none';
  const unit = product.privacyUnit;
  let bound: string | undefined;
  if (unit) inner.push(`${quoteIdent(unit)} AS u`);
  // A row without a unit belongs to no person: in every mode it is left out, as the agent's data scope leaves it out
  // (node-agent/policy/consent-scope.ts), never summed unguarded and uncounted as persons.
  if (unit) where.push(`${quoteIdent(unit)} IS NOT NULL`);
  if (dpMode && unit) {
    // Across sites (privacy.linkage): only the persons this site is designated for, bounded per linkage key.
    const link = linkageBoundingSql(job.privacy.linkage, product, p, d);
    if (link) where.push(...link.where);
    // Which k rows of a person count: ranked by a keyed hash of the columns the job reads (never `rowid`, which views,
    // consent scopes and PostgreSQL tables lack or number differently), ties broken by the same columns. Rows tied
    // on all of them are interchangeable for the statistics, so the bounded result is a function of the data and the
    // agent's salt alone: the same on every engine (the dialect hashes the same text) and in every row order.
    const used = boundingColumns(job, product, link?.personKey);
    const types = used.map((q) => product.columns.find((col) => quoteIdent(col.name) === q)?.type.toUpperCase() as SqlType | undefined);
    const order = [d.binaryOrder(d.keyedHash(p(options.salt, 'VARCHAR'), used, types)), ...used.flatMap((c) => [`CASE WHEN ${c} IS NULL THEN 0 ELSE 1 END`, c])].join(', ');
    // A row number per person, kept in a subquery and filtered outside it (QUALIFY is DuckDB's spelling of this).
    inner.push(`row_number() OVER (PARTITION BY ${link?.partitionKey ?? quoteIdent(unit)} ORDER BY ${order}) AS fedmesh_rank`);
    bound = p(privacy.maxRowsPerPerson, 'BIGINT');
  }
  // Persons, not rows: the cell size of a group in mode none is its number of distinct privacy units.
  if (unit && !dpMode) outer.push(`${d.cast('count(DISTINCT u)', 'BIGINT')} AS persons`);
  outer.push(`${groupLabelSql(keys.length, d)} AS cell`);
  // PostgreSQL allows 1664 result columns; histograms there are one column per bin.
  if (outer.length > 1600) throw new FedmeshError('INVALID_JOB', `measures: ${outer.length} result columns (histogram bins) are more than this agent's database can return in one query; use fewer bins`, { field: 'measures' });
  const innerSelect = inner.length > 0 ? inner.join(', ') : '1 AS one';
  const whereSql = where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '';
  const groupSql = keys.length > 0 ? ` GROUP BY ${keys.join(', ')} ORDER BY ${orderKeys.join(', ')}` : '';
  const scan = `SELECT ${innerSelect} FROM ${quoteIdent(product.name)}${whereSql}`;
  const rowsSelect = bound === undefined ? scan : `SELECT * FROM (${scan}) AS ranked WHERE fedmesh_rank <= ${bound}`;
  // Fenced: each histogram reads its bin index once per bin, which must not recompute the comparison tree each time.
  const withBins = bins.length > 0 ? d.fence(`SELECT *, ${bins.join(', ')} FROM (${rowsSelect}) AS r`) : rowsSelect;
  return {
    rowsStatements: (table) => tempTableStatements(d, table, withBins, rowsParams),
    rowsParams,
    statsSql: (table) => numberStats(`SELECT ${outer.join(', ')} FROM ${d.tempTable(table)}${groupSql}`, 0),
    statsParams,
    inlineSql: numberStats(`SELECT ${outer.join(', ')} FROM (${withBins}) AS t${groupSql}`, rowsParams.length),
    inlineParams: [...rowsParams, ...statsParams],
    histogramMeasures,
    momentMeasures,
    keyCount: keys.length,
    layout: privacy.layout,
    bounded: dpMode && unit !== undefined,
    hasUnit: unit !== undefined,
    dialect: d,
    readBins: (row, i) => {
      const h = histograms.get(i);
      if (!h) throw new RangeError(`measure ${i} has no histogram`);
      return h.read(row, `m${i}_hist`);
    },
  };
}

/**
 * The product's columns an aggregate job reads (filters, groups, measures, the privacy unit and the linkage key),
 * quoted, in the product's column order: the row content contribution bounding ranks by.
 */
export function boundingColumns(job: AggregateJob, product: ProductInfo, linkageKey?: string): string[] {
  const names = new Set<string>([...job.where.map((f) => f.column), ...job.groupBy, ...job.measures.flatMap((m) => ('column' in m && typeof m.column === 'string' ? [m.column] : []))]);
  if (product.privacyUnit) names.add(product.privacyUnit);
  if (product.linkage) names.add(product.linkage.column);
  const lower = new Set([...names].map((n) => n.toLowerCase()));
  const cols = product.columns.filter((c) => lower.has(c.name.toLowerCase())).map((c) => quoteIdent(c.name));
  return linkageKey && !cols.includes(linkageKey) ? [...cols, linkageKey] : cols;
}

/** The bin counts of histogram/quantile measure `i` from a result row (DuckDB returns histogram() as key/value pairs). */
export function readBins(row: Record<string, unknown>, i: number, bins: number): bigint[] {
  const out = Array.from({ length: bins }, () => 0n);
  const map = row[`m${i}_hist`] as { key: unknown; value: unknown }[] | null | undefined;
  for (const e of map ?? []) {
    const b = Number(e.key);
    if (!Number.isInteger(b) || b < 0 || b >= bins) throw new RangeError(`measure ${i}: bin ${String(e.key)} outside 0..${bins - 1}`);
    out[b] = BigInt(e.value as bigint);
  }
  return out;
}
