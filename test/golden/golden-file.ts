import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { goldenDiff, toGoldenValue } from './golden-compare.js';

/**
 * Re-recording is deliberate: only `FEDMESH_GOLDEN=record` writes a golden file (see test/golden/README.md). Without
 * it a missing file or case fails, so a deleted snapshot can never pass by being written again.
 */
export const RECORDING = process.env.FEDMESH_GOLDEN === 'record';

interface Stored {
  /** What the cases ran on: a digest per input folder, so a change of test data is told apart from a change of behaviour. */
  inputs: Record<string, string>;
  cases: Record<string, unknown>;
}

/** One committed golden file (`__snapshots__/<name>.golden.json`): the inputs' digests and one entry per case. */
export class GoldenFile {
  private readonly stored: Stored | undefined;
  private readonly recorded: Stored = { inputs: {}, cases: {} };
  private readonly checked = new Set<string>();

  constructor(readonly path: string) {
    this.stored = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Stored) : undefined;
  }

  /** Differences of the inputs from the recorded ones (empty when they match, or when recording). */
  checkInputs(inputs: Record<string, string>): string[] {
    this.recorded.inputs = inputs;
    if (RECORDING) return [];
    if (!this.stored) return [`${this.path} does not exist: record it with FEDMESH_GOLDEN=record (see test/golden/README.md)`];
    return goldenDiff(this.stored.inputs, inputs, '$inputs').map((d) => `test data changed, so the cases below cannot tell a change of behaviour from a change of input: ${d}`);
  }

  /** Differences of one case from its recording (empty when identical; always empty while recording). */
  check(name: string, actual: unknown): string[] {
    if (this.checked.has(name)) throw new Error(`golden case ${name} checked twice`);
    this.checked.add(name);
    const value = toGoldenValue(actual);
    this.recorded.cases[name] = value;
    if (RECORDING) return [];
    if (!this.stored || !(name in this.stored.cases)) return [`no recording of case ${JSON.stringify(name)} in ${this.path}`];
    return goldenDiff(this.stored.cases[name], value, `$[${JSON.stringify(name)}]`);
  }

  /** Differences of `actual` from case `name`'s recording, without recording anything (negative controls). */
  compare(name: string, actual: unknown): string[] {
    if (!this.stored || !(name in this.stored.cases)) return [`no recording of case ${JSON.stringify(name)} in ${this.path}`];
    return goldenDiff(this.stored.cases[name], toGoldenValue(actual), `$[${JSON.stringify(name)}]`);
  }

  /** Recorded cases no test checked: a case deleted or renamed must be re-recorded on purpose. */
  unchecked(): string[] {
    if (RECORDING) return [];
    return Object.keys(this.stored?.cases ?? {}).filter((n) => !this.checked.has(n));
  }

  /** While recording: writes what was checked, in the order checked. */
  save(): void {
    if (RECORDING) writeFileSync(this.path, `${JSON.stringify(this.recorded, null, 2)}\n`);
  }
}
