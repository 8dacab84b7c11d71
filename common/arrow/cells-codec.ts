import { Bool, Int64, Table, Utf8, tableFromIPC, tableToIPC, vectorFromArray } from 'apache-arrow';
import { FedmeshError, quote } from '../errors.js';

/** One agent's counts of persons in named public cells; `suppressed` marks cells withheld below the minimum cell size. */
export interface CellCounts {
  values: Map<string, bigint>;
  suppressed: Set<string>;
}

export function encodeCells(c: CellCounts): Uint8Array {
  const names = [...c.values.keys()];
  return tableToIPC(
    new Table({
      name: vectorFromArray(names, new Utf8()),
      value: vectorFromArray(names.map((n) => c.values.get(n)!), new Int64()),
      suppressed: vectorFromArray(names.map((n) => c.suppressed.has(n)), new Bool()),
    }),
    'stream',
  );
}

/** @throws FedmeshError INVALID_ARGUMENT when the bytes are not a cell table or name unexpected cells */
export function decodeCells(bytes: Uint8Array, agent: string, expected: ReadonlySet<string>): CellCounts {
  let t: Table;
  try {
    t = tableFromIPC(bytes);
  } catch (e) {
    throw new FedmeshError('INVALID_ARGUMENT', `agent ${agent} sent an unreadable Arrow result`, { cause: e });
  }
  const names = t.getChild('name');
  const values = t.getChild('value');
  const supp = t.getChild('suppressed');
  if (!names || !values || !supp) throw new FedmeshError('INVALID_ARGUMENT', `agent ${agent} sent a result without name/value/suppressed columns`);
  const out: CellCounts = { values: new Map(), suppressed: new Set() };
  for (let i = 0; i < t.numRows; i++) {
    const n = String(names.get(i));
    if (!expected.has(n)) throw new FedmeshError('INVALID_ARGUMENT', `agent ${agent} sent an unexpected cell ${quote(n)}`);
    out.values.set(n, BigInt(values.get(i) as bigint));
    if (supp.get(i)) out.suppressed.add(n);
  }
  return out;
}
