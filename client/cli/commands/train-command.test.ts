import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { JobView } from '../../sdk/types.js';
import { checkPlotFlag, writeTrainPlot } from './train-command.js';

const job = (result: JobView['result'], state: JobView['state'] = 'succeeded'): JobView => ({
  jobId: 'abcdef0123', state, kind: 'train', researcher: 'r', createdAtMs: 0, finishedAtMs: 0,
  agents: { asked: [], answered: [], missing: [] }, result, error: undefined, spec: {},
});
const result = (rows: Record<string, unknown>[]): JobView['result'] => ({ columns: [], rows, suppressed: [], privacy: { mode: 'none' }, notes: [], agentErrors: {} });

describe('--plot', () => {
  const dirP = mkdtemp(join(tmpdir(), 'fedmesh-train-plot-'));
  afterAll(async () => rm(await dirP, { recursive: true, force: true }));

  it('accepts FILE.svg and refuses other extensions as a usage error naming the flag', () => {
    expect(() => checkPlotFlag(undefined)).not.toThrow();
    expect(() => checkPlotFlag('curves.SVG')).not.toThrow();
    expect(() => checkPlotFlag('curves.png')).toThrow(/--plot: only SVG .*PNG is not offered/);
    expect(() => checkPlotFlag('curves.png')).toThrow(RangeError);
    expect(() => checkPlotFlag('curves')).toThrow(/--plot: only SVG/);
    expect(() => checkPlotFlag(' ')).toThrow(/--plot: needs a file name/);
    expect(() => checkPlotFlag('no-such-folder-3f9/curves.svg')).toThrow(/--plot: the folder "no-such-folder-3f9" does not exist/);
  });

  it('writes the SVG of a released result, and writes nothing (exit 1) for a failed job or zero rounds', async () => {
    const dir = await dirP;
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const ok = join(dir, 'ok.svg');
      expect(await writeTrainPlot(job(result([{ round: 1, trainLoss: 0.7 }, { round: 2, trainLoss: 0.5 }])), ok, false)).toBeUndefined();
      expect(await readFile(ok, 'utf8')).toMatch(/^<svg[\s\S]*series: global train[\s\S]*<\/svg>$/);
      const none = join(dir, 'none.svg');
      expect(await writeTrainPlot(job(result([])), none, false)).toBe(1);
      expect(await writeTrainPlot(job(undefined, 'failed'), none, false)).toBe(1);
      expect(existsSync(none)).toBe(false);
      // A folder in the file's place: the write fails, is reported, and the caller still prints the result.
      expect(await writeTrainPlot(job(result([{ round: 1, trainLoss: 0.7 }])), dir, false)).toBe(1);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/--plot: the train result has no rounds[\s\S]*--plot: the job failed[\s\S]*--plot: cannot write .*EISDIR/);
    } finally {
      stderr.mockRestore();
    }
  });
});
