import { Bool, Float64, Int64, Table, Utf8, tableFromIPC, tableToIPC, vectorFromArray, type Vector } from 'apache-arrow';
import { toKeyValue, type GroupPartial, type KeyValue, type MeasurePartial } from '../../algorithms/aggregate/index.js';
import { FedmeshError } from '../errors.js';
import { MAX_GROUPS_PER_AGENT } from '../job/index.js';
import { int128Vector, readInt128Vector } from './decimal.js';
import { checkIpcStream, IpcRejection, type IpcExpectation } from './ipc-guard.js';

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


/** Most rows of one agent's partial with public group keys (their combinations), bounding what one reply decodes. */
export const MAX_PARTIAL_GROUPS = 100_000;
/** Bound on the bytes of one string group key, for the reply's size limit (keys are column values cast to text). */
export const MAX_KEY_BYTES = 4096;

/**
 * The most rows an agent's partial may have: one without groupBy, the public combinations with groupKeys (agents
 * send exactly those, at most MAX_PARTIAL_GROUPS), else MAX_GROUPS_PER_AGENT (data-dependent groups).
 */
export function maxPartialRows(groupBy: readonly string[], groupKeys?: Readonly<Record<string, readonly unknown[]>>): number {
  if (groupBy.length === 0) return 1;
  if (!groupKeys) return MAX_GROUPS_PER_AGENT;
  let n = 1;
  for (const g of groupBy) n = Math.min(MAX_PARTIAL_GROUPS, n * (groupKeys[g]?.length ?? MAX_PARTIAL_GROUPS));
  return n;
}

/** The exact table an agent's partial must be, derived from the public plan alone. */
export function partialsExpectation(keyCount: number, layout: PartialLayout, maxRows: number): IpcExpectation {
  const columns: { name: string; type: IpcExpectation['columns'][number]['type'] }[] = [];
  for (let k = 0; k < keyCount; k++) columns.push({ name: `k${k}`, type: 'key' });
  columns.push({ name: 'count', type: 'int64' }, { name: 'suppressed', type: 'bool' });
  layout.forEach((l, i) => {
    if (l.kind === 'moments') columns.push({ name: `m${i}_n`, type: 'int64' }, { name: `m${i}_sum`, type: 'decimal128' }, { name: `m${i}_sumsq`, type: 'decimal128' });
    else if (l.kind === 'histogram') for (let b = 0; b < l.bins; b++) columns.push({ name: `m${i}_b${b}`, type: 'int64' });
  });
  // Per row: the widest value of each column plus its validity bit; string keys up to MAX_KEY_BYTES plus an offset.
  const rowBytes = columns.reduce((s, c) => s + 1 + (c.type === 'decimal128' ? 16 : c.type === 'bool' ? 1 : c.type === 'key' ? 8 + 4 + MAX_KEY_BYTES : 8), 0);
  return { columns, maxRows, maxBytes: (1 << 20) + maxRows * rowBytes };
}

/**
 * Decodes an agent's Arrow partial, after checking its framing, schema and batch headers against the layout the
 * job implies and the rows it allows (`checkIpcStream`): a reply that claims more than it carries is refused
 * before apache-arrow allocates anything for it.
 * @throws FedmeshError INVALID_ARGUMENT naming the agent when the bytes are not the expected table
 */
export function decodePartials(bytes: Uint8Array, agent: string, keyCount: number, layout: PartialLayout, maxRows = MAX_PARTIAL_GROUPS): GroupPartial[] {
  let t: Table;
  try {
    checkIpcStream(bytes, partialsExpectation(keyCount, layout, maxRows));
    t = tableFromIPC(bytes);
  } catch (e) {
    const why = e instanceof IpcRejection ? `: ${e.message}` : '';
    throw new FedmeshError('INVALID_ARGUMENT', `agent ${agent} sent an Arrow result that does not match the job's plan${why}`, { cause: e });
  }
  const n = t.numRows;
  // Read through get(), which honours the validity bitmap: toArray() of an Int64 or Float64 key column gives 0 for a
  // NULL key, which merged the NULL group into group 0.
  const keys = Array.from({ length: keyCount }, (_, k) => child(t, `k${k}`));
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
      key: keys.map((k) => toKeyValue(k.get(r))),
      count: counts[r]!,
      measures,
      suppressedBy: supp[r] ? [agent] : [],
    });
  }
  return out;
}
