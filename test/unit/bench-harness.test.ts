import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitInfo, machineInfo, measure, measureInterleaved, percentile, ratio, summarize, writeResult, type ResultFile } from '../../benchmarks/harness.js';

describe('benchmark harness', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-bench-harness-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('measure runs warm-ups untimed and reports the timed runs', async () => {
    let calls = 0;
    const stats = await measure(
      () => {
        calls++;
        let x = 0;
        for (let i = 0; i < 1000; i++) x += i;
        return x;
      },
      { warmup: 3, iterations: 11 },
    );
    expect(calls).toBe(14);
    expect(stats.iterations).toBe(11);
    expect(stats.samplesMs).toHaveLength(11);
    expect(stats.minMs).toBeGreaterThanOrEqual(0);
    expect(stats.minMs).toBeLessThanOrEqual(stats.p50Ms);
    expect(stats.p50Ms).toBeLessThanOrEqual(stats.p95Ms);
    expect(stats.p95Ms).toBeLessThanOrEqual(stats.maxMs);
    expect(stats.meanMs).toBeGreaterThanOrEqual(stats.minMs);
  });

  it('measureInterleaved takes turns and awaits each function', async () => {
    const order: string[] = [];
    const stats = await measureInterleaved(
      {
        a: async () => {
          order.push('a');
          await Promise.resolve();
        },
        b: () => void order.push('b'),
      },
      { warmup: 1, iterations: 2 },
    );
    expect(order).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
    expect(stats.a.iterations).toBe(2);
    expect(stats.b.samplesMs).toHaveLength(2);
  });

  it('rejects bad options, naming them', async () => {
    await expect(measure(() => 1, { iterations: 0 })).rejects.toThrow(/options\.iterations/);
    await expect(measure(() => 1, { warmup: -1 })).rejects.toThrow(/options\.warmup/);
    await expect(measure(() => 1, { iterations: 1.5 })).rejects.toThrow(/options\.iterations/);
  });

  it('percentiles are nearest-rank', () => {
    const xs = [5, 1, 4, 2, 3, 6, 7, 8, 9, 10];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 95)).toBe(10);
    expect(percentile(xs, 10)).toBe(1);
    expect(percentile([42], 95)).toBe(42);
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile(xs, 0)).toThrow(RangeError);
    const s = summarize([3, 1, 2]);
    expect(s).toMatchObject({ iterations: 3, p50Ms: 2, p95Ms: 3, meanMs: 2, minMs: 1, maxMs: 3, samplesMs: [3, 1, 2] });
  });

  it('ratio states both sides and whether the target is met', () => {
    expect(ratio(3, 2, { numerator: 'a', denominator: 'b', target: 1.5 })).toEqual({ value: 1.5, numerator: 'a', denominator: 'b', target: 1.5, met: true });
    expect(ratio(3.1, 2, { numerator: 'a', denominator: 'b', target: 1.5 }).met).toBe(false);
    expect(ratio(1, 3, { numerator: 'a', denominator: 'b' })).toEqual({ value: 0.3333, numerator: 'a', denominator: 'b' });
    expect(() => ratio(1, 0, { numerator: 'a', denominator: 'b' })).toThrow(RangeError);
  });

  it('machine and commit are read once and describe this run', () => {
    const m = machineInfo();
    expect(m.cpuCount).toBeGreaterThan(0);
    expect(m.cpuModel.length).toBeGreaterThan(0);
    expect(m.totalMemoryBytes).toBeGreaterThan(0);
    expect(m.node).toBe(process.version);
    expect(m.platform).toBe(process.platform);
    expect(machineInfo()).toBe(m);
    const c = commitInfo();
    expect(commitInfo()).toBe(c);
    if (c.sha !== null) {
      expect(c.sha).toMatch(/^[0-9a-f]{40}$/);
      expect(typeof c.dirty).toBe('boolean');
    }
  });

  it('writeResult writes {name, machine, commit, startedAt, results, ratios}', async () => {
    const stats = await measure(() => 1 + 1, { warmup: 1, iterations: 5 });
    const baseline = await measure(() => 1, { warmup: 1, iterations: 5 });
    const path = await writeResult(
      'trivial',
      { results: { stats, baseline, big: 2n ** 70n, label: 'sum [0,100]' }, ratios: { overBaseline: ratio(stats.p50Ms + 1, baseline.p50Ms + 1, { numerator: 'x', denominator: 'y', target: 100 }) } },
      { dir },
    );
    expect(path).toBe(join(dir, 'trivial.json'));
    const text = await readFile(path, 'utf8');
    expect(text).toMatch(/"samplesMs": \[[\d.]+(, [\d.]+){4}\]/);
    const file = JSON.parse(text) as ResultFile;
    expect(file.results.label).toBe('sum [0,100]');
    expect(Object.keys(file).sort()).toEqual(['commit', 'loadAverageAtStart', 'machine', 'name', 'ratios', 'results', 'startedAt']);
    expect(file.name).toBe('trivial');
    expect(file.machine).toEqual(machineInfo());
    expect(file.commit).toEqual(commitInfo());
    expect(new Date(file.startedAt).toISOString()).toBe(file.startedAt);
    expect(file.results.big).toBe((2n ** 70n).toString());
    expect((file.results.stats as { samplesMs: number[] }).samplesMs).toHaveLength(5);
    expect(file.ratios.overBaseline).toMatchObject({ numerator: 'x', denominator: 'y', target: 100, met: true });
    expect(typeof file.ratios.overBaseline!.value).toBe('number');
  });

  it('writeResult refuses names that are not plain file names', async () => {
    await expect(writeResult('../escape', { results: {}, ratios: {} }, { dir })).rejects.toThrow(RangeError);
    await expect(writeResult('Upper', { results: {}, ratios: {} }, { dir })).rejects.toThrow(/name/);
  });
});
