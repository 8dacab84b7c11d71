import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GoldenFile, RECORDING } from './golden-file.js';
import { startGoldenMesh, type GoldenMesh } from './golden-mesh.js';

export interface GoldenCase {
  name: string;
  spec: Record<string, unknown>;
}

const SNAPSHOTS = join(import.meta.dirname, '__snapshots__');

/**
 * One golden file: one mesh, its cases in order (each on fresh seeded streams), every case compared with its
 * recording, and a last test that no recorded case was dropped. `negativeControl` names a DP case that is run again
 * on other seeds and must then differ from its recording: proof that the seeds, not chance, make DP cases replay.
 */
export function goldenSuite(file: string, title: string, cases: readonly GoldenCase[], negativeControl: string): void {
  describe.sequential(title, () => {
    const golden = new GoldenFile(join(SNAPSHOTS, `${file}.golden.json`));
    let g: GoldenMesh;
    beforeAll(async () => {
      g = await startGoldenMesh();
    }, 120_000);
    afterAll(async () => {
      golden.save();
      await g?.close();
    });

    it('runs on the recorded inputs', () => {
      expect(golden.checkInputs(g.inputs)).toEqual([]);
    });
    for (const c of cases) {
      it(c.name, async () => {
        expect(golden.check(c.name, await g.run(c.name, c.spec))).toEqual([]);
      });
    }
    it.skipIf(RECORDING)(`negative control: ${negativeControl} on other seeds differs from its recording`, async () => {
      const c = cases.find((x) => x.name === negativeControl)!;
      const other = await g.run(`${c.name} (negative control: other seeds)`, c.spec);
      expect(other.job).toBeDefined();
      const diffs = golden.compare(c.name, other);
      expect(diffs.length).toBeGreaterThan(0);
      expect(diffs.every((d) => !d.includes('no recording'))).toBe(true);
    });
    it('every recorded case still runs (re-record on purpose to drop one)', () => {
      expect(golden.unchecked()).toEqual([]);
    });
  });
}
