import { isIntegerType, scaleBitsFor } from '../../algorithms/aggregate/index.js';
import type { PartialLayout } from '../../common/arrow/partials-codec.js';
import { checkAggregateAgainstSchema, findColumn } from '../../common/job/schema-check.js';
import type { AggregateJob, Filter, Scalar } from '../../common/job/spec.js';
import type { ProductInfo } from '../data/products.js';
import { quoteIdent } from '../data/database.js';

export interface AggregatePlan {
  sql: string;
  params: (string | number | boolean)[];
  keyCount: number;
  layout: PartialLayout;
}

/**
 * Builds the agent-side SQL of an `aggregate` job: exact sufficient statistics per group, every value from
 * the job bound as a parameter. Identifiers come only from the agent's own schema (validated here); nothing
 * from outside becomes SQL text.
 * @throws FedmeshError INVALID_JOB naming the field (unknown column, wrong type)
 */
export function planAggregate(job: AggregateJob, product: ProductInfo): AggregatePlan {
  checkAggregateAgainstSchema(job, product);
  const column = (p: ProductInfo, name: string, field: string) => findColumn(p, name, field);
  const params: (string | number | boolean)[] = [];
  const p = (v: string | number | boolean, castTo?: string): string => {
    params.push(v);
    return castTo ? `CAST($${params.length} AS ${castTo})` : `$${params.length}`;
  };
  const where: string[] = [];
  job.where.forEach((f: Filter, i) => {
    const field = `where[${i}]`;
    const col = column(product, f.column, `${field}.column`);
    const type = col.type.toUpperCase();
    const c = quoteIdent(col.name);
    switch (f.op) {
      case 'is null':
        where.push(`${c} IS NULL`);
        return;
      case 'is not null':
        where.push(`${c} IS NOT NULL`);
        return;
      case 'in': {
        const vals = f.value as Scalar[];
        where.push(`${c} IN (${vals.map((v) => p(v, type)).join(', ')})`);
        return;
      }
      case 'between': {
        const [lo, hi] = f.value as [Scalar, Scalar];
        where.push(`${c} BETWEEN ${p(lo, type)} AND ${p(hi, type)}`);
        return;
      }
      default: {
        const v = f.value as Scalar;
        const op = f.op === '!=' ? '<>' : f.op;
        where.push(`${c} ${op} ${p(v, type)}`);
      }
    }
  });

  const inner: string[] = [];
  const keys: string[] = [];
  job.groupBy.forEach((g, i) => {
    const col = column(product, g, `groupBy[${i}]`);
    const t = col.type.toUpperCase();
    const expr = isIntegerType(t) && t !== 'BOOLEAN' ? `${quoteIdent(col.name)}::BIGINT` : t === 'BOOLEAN' || t === 'DOUBLE' ? quoteIdent(col.name) : `CAST(${quoteIdent(col.name)} AS VARCHAR)`;
    inner.push(`${expr} AS k${i}`);
    keys.push(`k${i}`);
  });

  const outer: string[] = [...keys, 'count(*)::BIGINT AS count'];
  const layout: PartialLayout = [];
  job.measures.forEach((m, i) => {
    const field = `measures[${i}]`;
    if (m.fn === 'count') {
      layout.push({ kind: 'count' });
      return;
    }
    const col = column(product, m.column, `${field}.column`);
    const c = `${quoteIdent(col.name)}::DOUBLE`;
    if (m.fn === 'histogram') {
      inner.push(`${c} AS m${i}`);
      const bins = m.bins;
      for (let b = 0; b < bins.length - 1; b++) {
        const last = b === bins.length - 2;
        outer.push(`count(*) FILTER (WHERE m${i} >= ${p(bins[b]!, 'DOUBLE')} AND m${i} ${last ? '<=' : '<'} ${p(bins[b + 1]!, 'DOUBLE')})::BIGINT AS m${i}_b${b}`);
      }
      layout.push({ kind: 'histogram', bins: bins.length - 1 });
      return;
    }
    const scaleBits = scaleBitsFor(col.type, m.bounds);
    const clamped = `least(greatest(${c}, ${p(m.bounds[0], 'DOUBLE')}), ${p(m.bounds[1], 'DOUBLE')})`;
    inner.push(`round(${clamped} * ${p(2 ** scaleBits, 'DOUBLE')})::HUGEINT AS m${i}`);
    outer.push(`count(m${i})::BIGINT AS m${i}_n`, `coalesce(sum(m${i}), 0)::HUGEINT AS m${i}_sum`, `coalesce(sum(m${i} * m${i}), 0)::HUGEINT AS m${i}_sumsq`);
    layout.push({ kind: 'moments', scaleBits });
  });

  const innerSelect = inner.length > 0 ? inner.join(', ') : '1 AS one';
  const whereSql = where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '';
  const groupSql = keys.length > 0 ? ` GROUP BY ${keys.join(', ')} ORDER BY ${keys.join(', ')}` : '';
  const sql = `SELECT ${outer.join(', ')} FROM (SELECT ${innerSelect} FROM ${quoteIdent(product.name)}${whereSql}) AS t${groupSql}`;
  return { sql, params, keyCount: keys.length, layout };
}
