/**
 * Reading a cell kind's released vector back into named cells (common/kinds/cell-release.ts): the block offsets, who
 * withheld what, the secure totals' own minimum, each block's std; and the mode statements around the summary.
 */
import { describe, expect, it } from 'vitest';
import { cellKindRelease, readReleasedCells, MODE_NONE_CELL_NOTE, type CellReleaseContext } from './cell-release.js';
import type { RoundRecord } from './kind.js';

const blocks = [
  { name: 'a', cells: ['a0', 'a1'] },
  { name: 'b', cells: ['b0', 'b1', 'b2'] },
];
const round = (over: Partial<RoundRecord> = {}): RoundRecord => ({ round: 0, input: null, answered: ['s1', 's2'], released: [12, 0, 30, 4, 0], noiseStd: [0, 0], ...over });

describe('readReleasedCells', () => {
  it('names entries across blocks, marks the ones agents withheld (block and index), keeps zeros as zeros', () => {
    const { cells, suppressed } = readReleasedCells(blocks, { last: round({ withheld: [{ block: 'b', entry: 1, agents: ['s2'] }] }) });
    expect(Object.fromEntries([...cells].map(([k, v]) => [k, v.value]))).toEqual({ a0: 12, a1: 0, b0: 30, b1: null, b2: 0 });
    expect(suppressed).toEqual([{ group: { cell: 'b1' }, suppressedBy: ['s2'] }]);
    // Control: the same withheld entry in block a names a1, not b1 (the offset is per block).
    expect(readReleasedCells(blocks, { last: round({ withheld: [{ block: 'a', entry: 1, agents: ['s1'] }] }) }).suppressed).toEqual([{ group: { cell: 'a1' }, suppressedBy: ['s1'] }]);
  });

  it('inside a secure sum in mode none, withholds totals 0 < v < k; in DP, each block carries its std', () => {
    const secure = { privacy: {}, notes: [], minCellSize: 10, blockStd: [0, 0] };
    const s = readReleasedCells(blocks, { last: round(), secure });
    expect(s.suppressed).toEqual([{ group: { cell: 'b1' }, suppressedBy: ['minCellSize'] }]);
    expect(s.cells.get('a1')!.value).toBe(0);
    const dp = { privacy: {}, note: 'dp', blockStd: [1.5, 2.5] };
    const d = readReleasedCells(blocks, { last: round(), dp });
    expect([...d.cells.values()].map((c) => c.std)).toEqual([1.5, 1.5, 2.5, 2.5, 2.5]);
    expect(d.suppressed).toEqual([]);
  });
});

describe('cellKindRelease', () => {
  const summary = { columns: ['c'], rows: [], summary: { n: 1 }, notes: ['kind note'] };
  it('mode none: each answering agent\'s minimum cell size and the mode note first, then the extra and the kind notes', () => {
    const ctx: CellReleaseContext = { last: round() };
    const r = cellKindRelease(summary, [], ctx, { converged: true, minCellSize: { s1: 5, s2: 10, s3: 7 } }, ['extra']);
    expect(r.privacy).toEqual({ mode: 'none', exact: true, minCellSize: { s1: 5, s2: 10 } });
    expect(r.notes).toEqual([MODE_NONE_CELL_NOTE, 'extra', 'kind note']);
    expect(Object.keys(r)).toEqual(['columns', 'rows', 'suppressed', 'summary', 'privacy', 'notes']);
  });

  it('the DP statement wins over a secure one, and the secure statement\'s notes come before the kind\'s', () => {
    const secure = { privacy: { secure: true }, notes: ['secure'], blockStd: [0, 0] };
    const dp = { privacy: { dp: true }, note: 'dp', blockStd: [1, 1] };
    expect(cellKindRelease(summary, [], { last: round(), dp, secure }, { converged: true }).privacy).toEqual({ dp: true });
    const s = cellKindRelease(summary, [], { last: round(), secure }, { converged: true }, ['not in distributed-dp']);
    expect(s.privacy).toEqual({ secure: true });
    expect(s.notes).toEqual(['secure', 'kind note']);
    // Mode none inside a secure sum (the statement carries the totals' minimum): the kind's mode-none notes too.
    expect(cellKindRelease(summary, [], { last: round(), secure: { ...secure, minCellSize: 10 } }, { converged: true }, ['none note']).notes).toEqual(['secure', 'none note', 'kind note']);
  });
});
