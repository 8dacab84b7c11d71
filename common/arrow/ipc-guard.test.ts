import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Table, tableToIPC, vectorFromArray, Int64, Utf8, Bool, Float64 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { hugeLengthReply, messageFrames, nodeVectorBombReply, validCountReply } from '../../test/helpers/hostile-arrow.js';
import { FedmeshError } from '../errors.js';
import { decodeCells, encodeCells } from './cells-codec.js';
import { checkIpcStream, IpcRejection } from './ipc-guard.js';
import { decodePartials, encodePartials, partialsExpectation } from './partials-codec.js';

const run = promisify(execFile);
const COUNT = [{ kind: 'count' }] as const;

function refusedPartials(bytes: Uint8Array, maxRows = 1): FedmeshError {
  try {
    decodePartials(bytes, 'evil-agent', 0, COUNT, maxRows);
  } catch (e) {
    expect(e).toBeInstanceOf(FedmeshError);
    const err = e as FedmeshError;
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('agent evil-agent');
    return err;
  }
  throw new Error('expected the reply to be refused');
}

/**
 * Runs the decoder that shipped before the fix (tableFromIPC, then reading the count column) on `bytes` in a child
 * process with a 64 MiB heap, and reports how it ended.
 */
async function unguardedDecodeInChild(bytes: Uint8Array): Promise<{ code: number | null; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'fedmesh-arrow-'));
  try {
    const file = join(dir, 'reply.arrow');
    await writeFile(file, bytes);
    const code = `import { readFileSync } from 'node:fs'; import { tableFromIPC } from 'apache-arrow';
      const t = tableFromIPC(readFileSync(${JSON.stringify(file)})); t.getChild('count')?.toArray(); console.log('decoded', t.numRows);`;
    try {
      const r = await run(process.execPath, ['--max-old-space-size=64', '--input-type=module', '-e', code], { cwd: process.cwd(), timeout: 60_000 });
      return { code: 0, stderr: r.stderr };
    } catch (e) {
      const err = e as { code: number | null; signal?: string; stderr: string };
      return { code: err.code ?? -1, stderr: err.stderr };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('untrusted Arrow replies are checked before decoding (issue 8 #5)', () => {
  it('reproduces the crash: the unguarded decoder runs out of memory on a 296-byte reply', async () => {
    const bomb = nodeVectorBombReply();
    expect(bomb.length).toBeLessThan(472);
    const r = await unguardedDecodeInChild(bomb);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/heap out of memory|Allocation failed/);
  }, 90_000);

  it('refuses a valid schema followed by a batch header claiming 2^31 rows, naming the agent', () => {
    const err = refusedPartials(hugeLengthReply());
    expect(err.message).toMatch(/claims 2147483647 rows/);
  });

  it('refuses a batch whose flatbuffer claims 2^30 field nodes', () => {
    expect(refusedPartials(nodeVectorBombReply()).message).toMatch(/field nodes/);
  });

  it('refuses truncated, garbage, oversized and wrong-schema replies', () => {
    const good = validCountReply();
    for (let cut = 1; cut < good.length; cut += 7) refusedPartials(good.subarray(0, cut));
    const garbage = new Uint8Array(4096).map((_, i) => (i * 2654435761) >>> 24);
    refusedPartials(garbage);
    expect(refusedPartials(new Uint8Array(8 << 20)).message).toMatch(/exceed/);
    // Two groups where the plan allows one.
    const two = encodePartials(
      [
        { key: [], count: 1n, measures: [{ kind: 'count' }], suppressedBy: [] },
        { key: [], count: 2n, measures: [{ kind: 'count' }], suppressedBy: [] },
      ],
      0,
      COUNT,
    );
    refusedPartials(two);
    // A cell table where partials are expected, and a column of the wrong type.
    refusedPartials(encodeCells({ values: new Map([['a', 1n]]), suppressed: new Set() }));
    const wrongType = tableToIPC(new Table({ count: vectorFromArray([1.5], new Float64()), suppressed: vectorFromArray([false], new Bool()) }), 'stream');
    expect(refusedPartials(wrongType).message).toMatch(/count has type/);
    // A body shorter than its header claims (the end-of-stream marker and the last body bytes cut off).
    const [, [, batchEnd]] = messageFrames(good) as [[number, number], [number, number]];
    expect(refusedPartials(good.subarray(0, batchEnd - 8)).message).toMatch(/body length out of bounds/);
  });

  it('keeps RSS growth under 32 MiB over 200 hostile replies', () => {
    const replies = [hugeLengthReply(), nodeVectorBombReply(), hugeLengthReply(2 ** 28)];
    global.gc?.();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 200; i++) refusedPartials(replies[i % replies.length]!);
    const grown = process.memoryUsage().rss - before;
    expect(grown).toBeLessThan(32 << 20);
  });

  it('accepts every valid reply shape the agents produce', () => {
    const layout = [{ kind: 'count' }, { kind: 'moments', scaleBits: 4, sqScaleBits: 8 }, { kind: 'histogram', bins: 3 }] as const;
    const groups = [
      { key: ['x', 1, true], count: 5n, measures: [{ kind: 'count' as const }, { kind: 'moments' as const, n: 5n, sum: -(1n << 100n), sumSq: 7n, scaleBits: 4, sqScaleBits: 8 }, { kind: 'histogram' as const, bins: [1n, null, 3n] }], suppressedBy: [] },
      { key: [null, 2.5, false], count: 0n, measures: [{ kind: 'count' as const }, { kind: 'moments' as const, n: 0n, sum: 0n, sumSq: 0n, scaleBits: 4, sqScaleBits: 8 }, { kind: 'histogram' as const, bins: [0n, 0n, 0n] }], suppressedBy: ['a'] },
    ];
    const bytes = encodePartials(groups, 3, layout);
    const back = decodePartials(bytes, 'a', 3, layout, 2);
    expect(back.map((g) => g.count)).toEqual([5n, 0n]);
    expect(() => decodePartials(bytes, 'a', 3, layout, 1)).toThrow(/claims 2 rows/);
    expect(decodePartials(encodePartials([], 1, COUNT), 'a', 1, COUNT, 10)).toEqual([]);
    const cells = decodeCells(encodeCells({ values: new Map([['c1', 3n], ['c2', 0n]]), suppressed: new Set(['c2']) }), 'a', new Set(['c1', 'c2', 'c3']));
    expect([...cells.values]).toEqual([['c1', 3n], ['c2', 0n]]);
    expect(() => checkIpcStream(validCountReply(), partialsExpectation(0, COUNT, 1))).not.toThrow();
  });

  it('refuses cell replies with more rows or longer names than the job has cells', () => {
    const expected = new Set(['c1']);
    const two = encodeCells({ values: new Map([['c1', 1n], ['c1 ', 2n]]), suppressed: new Set() });
    expect(() => decodeCells(two, 'evil-agent', expected)).toThrow(/agent evil-agent/);
    const names = tableToIPC(new Table({ name: vectorFromArray(['c1'], new Utf8()), value: vectorFromArray([1n], new Int64()) }), 'stream');
    expect(() => decodeCells(names, 'evil-agent', expected)).toThrow(/2 columns/);
    expect(() => checkIpcStream(new Uint8Array(0), partialsExpectation(0, COUNT, 1))).toThrow(IpcRejection);
  });
});
