import { Bool, Int64, Table, Utf8, tableFromIPC, tableToIPC, vectorFromArray } from 'apache-arrow';
import { FedmeshError, quote } from '../errors.js';
import { checkIpcStream, IpcRejection, type IpcExpectation } from './ipc-guard.js';

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

/** The exact cell table a job allows: at most one row per expected cell, names no longer than theirs. */
export function cellsExpectation(expected: ReadonlySet<string>): IpcExpectation {
  let nameBytes = 0;
  for (const n of expected) nameBytes += Buffer.byteLength(n, 'utf8');
  return {
    columns: [
      { name: 'name', type: 'utf8' },
      { name: 'value', type: 'int64' },
      { name: 'suppressed', type: 'bool' },
    ],
    maxRows: expected.size,
    maxBytes: (1 << 16) + expected.size * (4 + 8 + 3) + nameBytes,
  };
}

/**
 * Decodes an agent's cell counts after `checkIpcStream` has checked the stream against the cells the job expects.
 * @throws FedmeshError INVALID_ARGUMENT naming the agent when the bytes are not a cell table or name unexpected cells
 */
export function decodeCells(bytes: Uint8Array, agent: string, expected: ReadonlySet<string>): CellCounts {
  let t: Table;
  try {
    checkIpcStream(bytes, cellsExpectation(expected));
    t = tableFromIPC(bytes);
  } catch (e) {
    const why = e instanceof IpcRejection ? `: ${e.message}` : '';
    throw new FedmeshError('INVALID_ARGUMENT', `agent ${agent} sent an Arrow result that does not match the job's plan${why}`, { cause: e });
  }
  const names = t.getChild('name');
  const values = t.getChild('value');
  const supp = t.getChild('suppressed');
  if (!names || !values || !supp) throw new FedmeshError('INVALID_ARGUMENT', `agent ${agent} sent a result without name/value/suppressed columns`);
  const out: CellCounts = { values: new Map(), suppressed: new Set() };
  for (let i = 0; i < t.numRows; i++) {
    const n = String(names.get(i));
    if (!expected.has(n)) throw new FedmeshError('INVALID_ARGUMENT', `agent ${agent} sent an unexpected cell ${quote(n)}`);
    if (out.values.has(n)) throw new FedmeshError('INVALID_ARGUMENT', `agent ${agent} sent cell ${quote(n)} twice`);
    out.values.set(n, BigInt(values.get(i) as bigint));
    if (supp.get(i)) out.suppressed.add(n);
  }
  return out;
}
