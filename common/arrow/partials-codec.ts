import { Bool, Float64, Int64, Table, Utf8, tableFromIPC, tableToIPC, vectorFromArray, type Vector } from 'apache-arrow';
import { toKeyValue, type GroupPartial, type KeyValue, type MeasurePartial } from '../../algorithms/aggregate/index.js';
import { FedmeshError } from '../errors.js';
import { int128Vector, readInt128Vector } from './decimal.js';

/** Layout of the measures in an agent's partial, known to both sides from the job spec. */
export type PartialLayout = readonly ({ kind: 'count' } | { kind: 'moments'; scaleBits: number; sqScaleBits: number } | { kind: 'histogram'; bins: number })[];

function keyVector(values: KeyValue[]): Vector {
  const nonNull = values.filter((v) => v !== null);
  if (nonNull.every((v) => typeof v === 'boolean')) return vectorFromArray(values as (boolean | null)[], new Bool());
  if (nonNull.every((v) => typeof v === 'number')) {
    if (nonNull.every((v) => Number.isSafeInteger(v))) {
      return vectorFromArray(values.map((v) => (v === null ? null : BigInt(v as number))), new Int64());
    }
    return vectorFromArray(values as (number | null)[], new Float64());
  }
  return vectorFromArray(values.map((v) => (v === null ? null : String(v))), new Utf8());
}

/** Encodes an agent's per-group sufficient statistics as an Arrow IPC stream. */
export function encodePartials(groups: readonly GroupPartial[], keyCount: number, layout: PartialLayout): Uint8Array {
  const cols: Record<string, Vector> = {};
  for (let k = 0; k < keyCount; k++) cols[`k${k}`] = keyVector(groups.map((g) => g.key[k] ?? null));
  cols.count = vectorFromArray(groups.map((g) => g.count), new Int64());
  cols.suppressed = vectorFromArray(groups.map((g) => g.suppressedBy.length > 0), new Bool());
  layout.forEach((l, i) => {
    if (l.kind === 'moments') {
      const ms = groups.map((g) => g.measures[i] as Extract<MeasurePartial, { kind: 'moments' }>);
      cols[`m${i}_n`] = vectorFromArray(ms.map((m) => m.n), new Int64());
      cols[`m${i}_sum`] = int128Vector(ms.map((m) => m.sum));
      cols[`m${i}_sumsq`] = int128Vector(ms.map((m) => m.sumSq));
    } else if (l.kind === 'histogram') {
      for (let b = 0; b < l.bins; b++) {
        cols[`m${i}_b${b}`] = vectorFromArray(
          groups.map((g) => (g.measures[i] as Extract<MeasurePartial, { kind: 'histogram' }>).bins[b] ?? null),
          new Int64(),
        );
      }
    }
  });
  return tableToIPC(new Table(cols), 'stream');
}

function child(t: Table, name: string): Vector {
  const c = t.getChild(name);
  if (!c) throw new FedmeshError('INVALID_ARGUMENT', `agent result lacks column ${name}`);
  return c;
}


/**
 * Decodes an agent's Arrow partial, checking it against the layout the job implies.
 * @throws FedmeshError INVALID_ARGUMENT when the bytes are not the expected table
 */
export function decodePartials(bytes: Uint8Array, agent: string, keyCount: number, layout: PartialLayout): GroupPartial[] {
  let t: Table;
  try {
    t = tableFromIPC(bytes);
  } catch (e) {
    throw new FedmeshError('INVALID_ARGUMENT', `agent ${agent} sent an unreadable Arrow result`, { cause: e });
  }
  const n = t.numRows;
  const keys = Array.from({ length: keyCount }, (_, k) => child(t, `k${k}`).toArray() as ArrayLike<unknown>);
  const counts = child(t, 'count').toArray() as BigInt64Array;
  const supp = child(t, 'suppressed').toArray() as ArrayLike<boolean>;
  const measureCols = layout.map((l, i) => {
    if (l.kind === 'moments') {
      return {
        n: child(t, `m${i}_n`).toArray() as BigInt64Array,
        sum: readInt128Vector(child(t, `m${i}_sum`)),
        sumSq: readInt128Vector(child(t, `m${i}_sumsq`)),
      };
    }
    if (l.kind === 'histogram') {
      return { bins: Array.from({ length: l.bins }, (_, b) => child(t, `m${i}_b${b}`)) };
    }
    return null;
  });
  const out: GroupPartial[] = [];
  for (let r = 0; r < n; r++) {
    const measures: MeasurePartial[] = layout.map((l, i) => {
      const c = measureCols[i] as Record<string, unknown> | null;
      if (l.kind === 'count') return { kind: 'count' };
      if (l.kind === 'moments') {
        const m = c as { n: BigInt64Array; sum: bigint[]; sumSq: bigint[] };
        return { kind: 'moments', n: m.n[r]!, sum: m.sum[r]!, sumSq: m.sumSq[r]!, scaleBits: l.scaleBits, sqScaleBits: l.sqScaleBits };
      }
      const h = c as { bins: Vector[] };
      return { kind: 'histogram', bins: h.bins.map((v) => (v.get(r) as bigint | null) ?? null) };
    });
    out.push({
      key: keys.map((k) => toKeyValue(k[r])),
      count: counts[r]!,
      measures,
      suppressedBy: supp[r] ? [agent] : [],
    });
  }
  return out;
}
