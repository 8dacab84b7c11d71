import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { isFedmeshError } from '../../common/errors.js';
import { compileKindJob, encodeVector, type StatLayout, type StatVector, checkSelectionSecure, layoutWithWithheld, suppressedOfRounds, WITHHELD, withheldPerAgent, withholdSmallCells } from '../../common/kinds/index.js';
import { CELLS_LAYOUT as LAYOUT, cellKind, type CellSpec } from '../../test/helpers/selection-kind.js';
import { createMemoryRoundStore, runRounds, type RoundTransport } from './round-runner.js';

/**
 * `release: 'selection'` in the round runner (issue 9, porting item 3), with a one-round test kind: three public
 * cells of person counts (a selection block) and a total (additive) (test/helpers/selection-kind.ts). Agents withhold cells below their own
 * minimum cell size exactly as the agent's task runner does (withholdSmallCells).
 */
// Per agent: counts in the three cells and its minimum cell size.
const agents: Record<string, { cells: number[]; k: number }> = {
  a: { cells: [12, 3, 0], k: 5 },
  b: { cells: [20, 40, 2], k: 5 },
  c: { cells: [7, 9, 30], k: 10 },
};
const vectorOf = (cells: number[]): StatVector => ({ values: Float64Array.from([...cells, cells.reduce((s, x) => s + x, 0)]) });

function transport(opts: { withhold: boolean; k?: number; tamper?: (agent: string, v: StatVector) => StatVector }): RoundTransport {
  return {
    async ask(agent) {
      const d = agents[agent]!;
      let v = vectorOf(d.cells);
      if (opts.withhold) v = withholdSmallCells(LAYOUT, v, opts.k ?? d.k).vector;
      if (opts.tamper) v = opts.tamper(agent, v);
      return { ok: true, bytes: encodeVector(v) };
    },
    cancelJob: () => undefined,
  };
}

function run(spec: CellSpec, t: RoundTransport) {
  const job = compileKindJob(cellKind, spec);
  return runRounds({ def: cellKind, job, jobId: 'j', researcher: 'r', specJson: JSON.stringify(spec), agents: Object.keys(agents), transport: t, store: createMemoryRoundStore(), rng: createSeededRng(3) });
}

describe('selection blocks (mode none: small cells withheld at the source)', () => {
  it('withholds below each agent’s own k, releases no part of a withheld cell, and says who withheld it', async () => {
    const out = await run({ kind: 'cells', product: 'p', privacy: { mode: 'none' } }, transport({ withhold: true }));
    const rec = out.history[0]!;
    // Cell 0: nobody below k (12 ≥ 5, 20 ≥ 5, 7 < 10 → c withholds). Cell 1: a (3 < 5) and c (9 < 10). Cell 2: b (2 < 5); a's 0 is not small.
    expect(rec.withheld).toEqual([
      { block: 'cells', entry: 0, agents: ['c'] },
      { block: 'cells', entry: 1, agents: ['a', 'c'] },
      { block: 'cells', entry: 2, agents: ['b'] },
    ]);
    expect(rec.released.slice(0, 3)).toEqual([0, 0, 0]);
    // The additive total is released whole (the kind, not the runner, decides what a total may say).
    expect(rec.released[3]).toBe(15 + 62 + 46);
    expect(withheldPerAgent(rec.withheld!)).toEqual({ a: 1, b: 1, c: 2 });
  });

  it('releases the exact sum of every cell when no agent is below its k (k = 1 everywhere)', async () => {
    const out = await run({ kind: 'cells', product: 'p', privacy: { mode: 'none' } }, transport({ withhold: true, k: 1 }));
    expect(out.history[0]!.withheld).toBeUndefined();
    // Sums by hand from the table above: 12+20+7, 3+40+9, 0+2+30.
    expect(out.history[0]!.released).toEqual([39, 52, 32, 123]);
  });

  it('negative control: agents that do not withhold make the small cells visible in the sum', async () => {
    const out = await run({ kind: 'cells', product: 'p', privacy: { mode: 'none' } }, transport({ withhold: false }));
    expect(out.history[0]!.withheld).toBeUndefined();
    expect(out.history[0]!.released.slice(0, 3)).toEqual([39, 52, 32]);
  });

  it('refuses the withheld marker in an additive block as that agent’s failed answer', async () => {
    const tamper = (agent: string, v: StatVector): StatVector => (agent === 'b' ? { values: Float64Array.from([...v.values.slice(0, 3), WITHHELD]) } : v);
    const e = await run({ kind: 'cells', product: 'p', privacy: { mode: 'none' } }, transport({ withhold: true, tamper })).catch((x: unknown) => x);
    expect(isFedmeshError(e) && e.code).toBe('QUORUM_NOT_MET');
    expect((e as Error).message).toContain('block total[0] outside its public bounds');
  });

  it('in central-dp nothing is withheld and the marker is refused (noise protects small cells)', async () => {
    const e = await run({ kind: 'cells', product: 'p', privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } }, transport({ withhold: true })).catch((x: unknown) => x);
    expect(isFedmeshError(e) && e.code).toBe('QUORUM_NOT_MET');
    expect((e as Error).message).toContain('block cells');
    const ok = await run({ kind: 'cells', product: 'p', privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } }, transport({ withhold: false }));
    expect(ok.history[0]!.withheld).toBeUndefined();
  });

  it('refuses a mode-none selection job under a secure sum, naming secure', () => {
    const job = compileKindJob(cellKind, { kind: 'cells', product: 'p', privacy: { mode: 'none' }, secure: 'secagg' });
    let e: unknown;
    try {
      checkSelectionSecure(job, LAYOUT);
    } catch (x) {
      e = x;
    }
    expect(isFedmeshError(e) && e.code === 'FAILED_PRECONDITION' && e.field).toBe('secure');
    // Control: the same job in a DP mode, or with the plain sum, passes.
    expect(() => checkSelectionSecure({ ...job, privacy: { mode: 'central-dp', epsilon: 1 } }, LAYOUT)).not.toThrow();
    expect(() => checkSelectionSecure({ ...job, secure: 'plain' }, LAYOUT)).not.toThrow();
  });

  it('a selection block with a negative lower bound is a layout error (the marker would be ambiguous)', () => {
    const bad: StatLayout = { blocks: [{ ...LAYOUT.blocks[0]!, perAgent: { lo: -5, hi: 5 } }] };
    expect(() => layoutWithWithheld(bad)).toThrow(/perAgent.lo >= 0/);
    expect(layoutWithWithheld({ blocks: [LAYOUT.blocks[1]!] })).toEqual({ blocks: [LAYOUT.blocks[1]!] });
  });
});

describe('suppressedOfRounds (the job result of a kind that names no cells)', () => {
  it('lists the last round’s withheld entries with who withheld them; nothing withheld gives []', () => {
    const w = [{ block: 'cells', entry: 1, agents: ['a', 'c'] }];
    expect(suppressedOfRounds([{}, { withheld: w }])).toEqual([{ group: { block: 'cells', entry: 1 }, suppressedBy: ['a', 'c'] }]);
    // Only the last round counts: an earlier round's withheld cells were not what the release read.
    expect(suppressedOfRounds([{ withheld: w }, {}])).toEqual([]);
    expect(suppressedOfRounds([])).toEqual([]);
  });
});
