import { Bool, Int64, Int32, Table, Utf8, tableToIPC, vectorFromArray, Float64 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import type { GroupPartial } from '../../algorithms/aggregate/index.js';
import { MAX_GROUPS_PER_AGENT } from '../job/index.js';
import { decodeCells, encodeCells } from './cells-codec.js';
import { int128Vector, readInt128Vector } from './decimal.js';
import { decodePartials, encodePartials, maxPartialRows, MAX_PARTIAL_GROUPS, type PartialLayout } from './partials-codec.js';

/**
 * The Arrow codecs of agent replies in process (issue 9, test pyramid): exact round trips of every value the agents
 * send, and refusals of replies that do not match the plan. ipc-guard.test.ts covers hostile framing.
 */
const LAYOUT: PartialLayout = [{ kind: 'count' }, { kind: 'moments', scaleBits: 16, sqScaleBits: 32 }, { kind: 'histogram', bins: 3 }];
const BIG = (1n << 126n) + 12345n;

function group(key: GroupPartial['key'], count: bigint, sum: bigint, bins: (bigint | null)[], suppressed = false): GroupPartial {
  return {
    key,
    count,
    measures: [{ kind: 'count' }, { kind: 'moments', n: count, sum, sumSq: sum * sum < BIG ? sum * sum : BIG, scaleBits: 16, sqScaleBits: 32 }, { kind: 'histogram', bins }],
    suppressedBy: suppressed ? ['s1'] : [],
  };
}

describe('Decimal128 integers', () => {
  it('round-trip every 128-bit integer exactly, the extremes included', () => {
    const values = [0n, 1n, -1n, (1n << 127n) - 1n, -(1n << 127n), BIG, -BIG, 2n ** 64n, -(2n ** 64n) + 1n];
    expect(readInt128Vector(int128Vector(values))).toEqual(values);
  });

  it('negative: values beyond 128 bits and vectors of another type are refused', () => {
    expect(() => int128Vector([1n << 127n])).toThrow(RangeError);
    expect(() => int128Vector([-(1n << 127n) - 1n])).toThrow(/value 0 does not fit in 128 bits/);
    expect(() => readInt128Vector(vectorFromArray([1n], new Int64()))).toThrow(TypeError);
  });
});

describe('partials codec', () => {
  it('round-trips keys of every type, nulls, 128-bit sums, null bins and suppression exactly', () => {
    const groups = [
      group([8507, 'f', true], 10n, BIG, [1n, null, 3n]),
      group([8532, 'm', false], 0n, -BIG, [0n, 0n, 0n], true),
      group([7, null, null], 3n, -5n, [null, null, null]),
    ];
    const out = decodePartials(encodePartials(groups, 3, LAYOUT), 's1', 3, LAYOUT);
    expect(out).toEqual(groups);
  });

  it('a NULL integer or float group key stays NULL: it is not merged into group 0 (bug found here, fixed)', () => {
    for (const other of [8507, 1.5]) {
      const groups = [group([other], 4n, 0n, [0n, 0n, 0n]), group([null], 6n, 0n, [0n, 0n, 0n]), group([0], 5n, 0n, [0n, 0n, 0n])];
      expect(decodePartials(encodePartials(groups, 1, LAYOUT), 's1', 1, LAYOUT).map((g) => g.key)).toEqual([[other], [null], [0]]);
    }
  });

  it('a float key stays a float, an integer key beyond 2^53 is not rounded through a double', () => {
    const groups = [group([1.5], 1n, 0n, [0n, 0n, 0n]), group([2.25], 2n, 0n, [0n, 0n, 0n])];
    expect(decodePartials(encodePartials(groups, 1, LAYOUT), 'a', 1, LAYOUT).map((g) => g.key)).toEqual([[1.5], [2.25]]);
  });

  it('negative: a reply in another layout, with more rows than allowed, or of garbage is refused naming the agent', () => {
    const bytes = encodePartials([group([1], 1n, 1n, [1n, 0n, 0n]), group([2], 1n, 1n, [1n, 0n, 0n])], 1, LAYOUT);
    const otherLayout: PartialLayout = [{ kind: 'count' }, { kind: 'moments', scaleBits: 16, sqScaleBits: 32 }, { kind: 'histogram', bins: 4 }];
    expect(() => decodePartials(bytes, 's2', 1, otherLayout)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('agent s2 sent an Arrow result that does not match') }));
    expect(() => decodePartials(bytes, 's2', 2, LAYOUT)).toThrow(/agent s2/);
    expect(() => decodePartials(bytes, 's2', 1, LAYOUT, 1)).toThrow(/agent s2/);
    expect(() => decodePartials(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), 's2', 1, LAYOUT)).toThrow(/agent s2/);
    // Negative control: the same bytes decode under the plan they were made for.
    expect(decodePartials(bytes, 's2', 1, LAYOUT, 2)).toHaveLength(2);
  });

  it('maxPartialRows: one row without groupBy, the public combinations with keys (capped), the agent cap without', () => {
    expect(maxPartialRows([])).toBe(1);
    expect(maxPartialRows(['a', 'b'], { a: [1, 2, 3], b: ['x', 'y'] })).toBe(6);
    expect(maxPartialRows(['a', 'b'], { a: Array.from({ length: 1000 }, (_, i) => i), b: Array.from({ length: 1000 }, (_, i) => i) })).toBe(MAX_PARTIAL_GROUPS);
    expect(maxPartialRows(['a'])).toBe(MAX_GROUPS_PER_AGENT);
  });
});

describe('cells codec', () => {
  const expected = new Set(['persons', 'age:0-17', 'rule:0']);

  it('round-trips counts (beyond 2^53 too) and the suppressed set exactly', () => {
    const cells = { values: new Map([['persons', 2n ** 60n + 1n], ['age:0-17', 0n], ['rule:0', 7n]]), suppressed: new Set(['rule:0']) };
    expect(decodeCells(encodeCells(cells), 's1', expected)).toEqual(cells);
  });

  it('negative: an unexpected cell, a cell twice, too many rows or a wrong column type is refused naming the agent', () => {
    const unexpected = encodeCells({ values: new Map([['persons', 1n], ['secret', 2n]]), suppressed: new Set() });
    expect(() => decodeCells(unexpected, 's3', expected)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'agent s3 sent an unexpected cell "secret"' }));
    const twice = tableToIPC(new Table({ name: vectorFromArray(['persons', 'persons'], new Utf8()), value: vectorFromArray([1n, 2n], new Int64()), suppressed: vectorFromArray([false, false], new Bool()) }), 'stream');
    expect(() => decodeCells(twice, 's3', expected)).toThrow('agent s3 sent cell "persons" twice');
    const four = encodeCells({ values: new Map([['persons', 1n], ['age:0-17', 1n], ['rule:0', 1n], ['x', 1n]]), suppressed: new Set() });
    expect(() => decodeCells(four, 's3', expected)).toThrow(/agent s3 sent an Arrow result that does not match/);
    const floats = tableToIPC(new Table({ name: vectorFromArray(['persons'], new Utf8()), value: vectorFromArray([1.5], new Float64()), suppressed: vectorFromArray([false], new Bool()) }), 'stream');
    expect(() => decodeCells(floats, 's3', expected)).toThrow(/does not match/);
    const int32 = tableToIPC(new Table({ name: vectorFromArray(['persons'], new Utf8()), value: vectorFromArray([1], new Int32()), suppressed: vectorFromArray([false], new Bool()) }), 'stream');
    expect(() => decodeCells(int32, 's3', expected)).toThrow(/does not match/);
  });
});
