import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobStore } from '../job-store.js';
import { openRoundStore } from './round-store.js';

describe('durable round store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-rounds-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the withheld small cells of a round across a reopen (a resumed job must not release their zeros as counts)', async () => {
    let store = await JobStore.open(dir);
    let rounds = await openRoundStore(store);
    const withheld = [{ block: 'cells', entry: 1, agents: ['a', 'c'] }];
    await rounds.saveRound('j', { round: 0, input: {}, answered: ['a', 'b', 'c'], released: [39, 0, 32], noiseStd: [0], withheld });
    await rounds.saveRound('j', { round: 1, input: { x: 1 }, answered: ['a', 'b', 'c'], released: [1, 2, 3], noiseStd: [0] });
    store.close();
    store = await JobStore.open(dir);
    rounds = await openRoundStore(store);
    const back = await rounds.loadRounds('j');
    expect(back[0]!.withheld).toEqual(withheld);
    // Control: a round with nothing withheld comes back without the field (not an empty list that reads as "checked").
    expect('withheld' in back[1]!).toBe(false);
    expect(back[1]!.released).toEqual([1, 2, 3]);
    store.close();
  });

  it('opens a store written before withheld_json existed (column added in place, old rounds still load)', async () => {
    const store = await JobStore.open(dir);
    await store.withConnection(async (conn) => {
      await conn.run('CREATE TABLE job_rounds (job_id VARCHAR NOT NULL, round INTEGER NOT NULL, input_json VARCHAR NOT NULL, answered_json VARCHAR NOT NULL, released_json VARCHAR NOT NULL, noise_json VARCHAR NOT NULL, at_ms BIGINT NOT NULL, PRIMARY KEY (job_id, round))');
      await conn.run(`INSERT INTO job_rounds VALUES ('old', 0, '{}', '["a"]', '[5]', '[0]', 1)`);
    });
    const rounds = await openRoundStore(store);
    expect(await rounds.loadRounds('old')).toEqual([{ round: 0, input: {}, answered: ['a'], released: [5], noiseStd: [0] }]);
    await rounds.saveRound('old', { round: 1, input: {}, answered: ['a'], released: [0], noiseStd: [0], withheld: [{ block: 'b', entry: 0, agents: ['a'] }] });
    expect((await rounds.loadRounds('old'))[1]!.withheld).toEqual([{ block: 'b', entry: 0, agents: ['a'] }]);
    store.close();
  });

  it('keeps per-agent slices across a reopen; a round without them comes back without the field (control)', async () => {
    let store = await JobStore.open(dir);
    let rounds = await openRoundStore(store);
    const perAgent = { a: [3, 0.5, 2], b: [4, 1.25, 3] };
    await rounds.saveRound('p', { round: 0, input: {}, answered: ['a', 'b'], released: [7, 1.75, 5], noiseStd: [0], perAgent, federation: 3, missed: ['c'], minCellSize: { a: 5, b: 11 } });
    await rounds.saveRound('p', { round: 1, input: {}, answered: ['a', 'b'], released: [7, 1.75, 5], noiseStd: [0] });
    store.close();
    store = await JobStore.open(dir);
    rounds = await openRoundStore(store);
    const back = await rounds.loadRounds('p');
    expect(back[0]!.perAgent).toEqual(perAgent);
    expect('perAgent' in back[1]!).toBe(false);
    // The federation's size (SCAFFOLD's N) likewise.
    expect(back[0]!.federation).toBe(3);
    expect('federation' in back[1]!).toBe(false);
    // And who missed the round.
    expect(back[0]!.missed).toEqual(['c']);
    expect('missed' in back[1]!).toBe(false);
    // And the answering agents' published minimum cell sizes (a resumed release applies them: red team 48).
    expect(back[0]!.minCellSize).toEqual({ a: 5, b: 11 });
    expect('minCellSize' in back[1]!).toBe(false);
    store.close();
  });
});
