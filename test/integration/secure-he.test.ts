import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTlsMaterial } from '../../common/tls.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadHeKeyFolder } from '../../common/he/index.js';
import { makePersons, writePersonCsv, type PersonRow } from '../helpers/person-data.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** Needles for a secret: raw windows of it, their base64 (all three alignments) and hex. */
function needles(secret: Uint8Array): (Buffer | string)[] {
  const out: (Buffer | string)[] = [];
  for (const at of [200, secret.length >> 1, secret.length - 100]) {
    const w = Buffer.from(secret.subarray(at, at + 48));
    out.push(w, w.toString('hex'));
    for (let a = 0; a < 3; a++) out.push(Buffer.from(secret.subarray(at + a, at + a + 48)).toString('base64').slice(4, -4));
  }
  return out;
}

function contains(hay: Buffer | string, needle: Buffer | string): boolean {
  return typeof hay === 'string' ? hay.includes(needle.toString()) : hay.includes(needle as Buffer) || (typeof needle === 'string' && hay.includes(Buffer.from(needle)));
}

/** HE aggregate jobs end to end: the researcher client holds the key; the coordinator adds ciphertexts only. */
describe('secure aggregation (he) in aggregate jobs', () => {
  let mesh: TestMesh;
  let admin: CoordinatorClient;
  const logLines: string[] = [];
  const names = ['a1', 'a2', 'a3'];
  const persons: PersonRow[][] = [150, 120, 90].map((n, i) => makePersons(n, 70 + i, (i + 1) * 100_000));
  const job = {
    kind: 'aggregate',
    product: 'person',
    groupBy: ['gender_concept_id'],
    groupKeys: { gender_concept_id: [8507, 8532] },
    measures: [
      { fn: 'count' },
      { fn: 'sum', column: 'year_of_birth', bounds: [1900, 2030] },
      { fn: 'variance', column: 'bmi', bounds: [10, 60] },
      { fn: 'histogram', column: 'year_of_birth', bins: [1930, 1950, 1970, 1990, 2010] },
    ],
    privacy: { mode: 'none' },
    timeoutMs: 30_000,
  };
  const byGender = (rows: Record<string, unknown>[]) => [...rows].sort((a, b) => Number(a.gender_concept_id) - Number(b.gender_concept_id));
  let keyDir: string;

  beforeAll(async () => {
    mesh = await startMesh({ agentNames: names, coordinatorLog: (event, fields) => logLines.push(JSON.stringify({ event, ...fields })) });
    keyDir = join(mesh.dir, 'researcher-keys');
    for (const [i, n] of names.entries()) {
      const dir = join(mesh.dir, 'data', n);
      await writePersonCsv(dir, persons[i]!);
      await mesh.startAgent(n, dir, { allowModes: ['none', 'distributed-dp'], minCellSize: 5, budgetCap: { epsilon: 1e4, delta: 1e-3 } });
    }
    await mesh.waitForAgents(3);
    admin = new CoordinatorClient({ address: `127.0.0.1:${mesh.server.port}`, tls: loadTlsMaterial(mesh.tlsDir, 'admin', 'admin') });
    await admin.setBudget('researcher', { population: 'person' }, 1e4, 1e-3);
  });
  afterAll(async () => {
    admin?.close();
    await mesh?.close();
  });

  it('mode none: the client decrypts a sum equal to the plaintext job bit for bit; the coordinator released no values', async () => {
    const plain = await mesh.client.run(job);
    const secure = await mesh.client.run({ ...job, secure: 'he' }, undefined, { keyDir: join(keyDir, 'none') });
    expect(plain.error).toBeUndefined();
    expect(secure.error).toBeUndefined();
    expect(secure.agents.answered).toEqual(names);
    expect(byGender(secure.result!.rows)).toEqual(byGender(plain.result!.rows));
    expect(secure.result!.privacy).toMatchObject({ mode: 'none', secure: 'he', exact: true, decryptedBy: 'researcher client' });
    // What the coordinator itself holds: ciphertexts, no rows.
    const stored = await mesh.coordinator.getJob({ name: 'admin', isAdmin: true }, secure.jobId);
    expect(stored.result!.rows).toEqual([]);
    expect(stored.resultCiphertexts!.length).toBeGreaterThan(0);
  });

  it('distributed-dp: noisy values with the stated std, charged for n − tolerated honest shares', async () => {
    const spec = { ...job, measures: [{ fn: 'count' }, { fn: 'histogram', column: 'year_of_birth', bins: [1930, 1970, 2010] }], secure: 'he', privacy: { mode: 'distributed-dp', rho: 0.05 } };
    const r = await mesh.client.run(spec, undefined, { keyDir: join(keyDir, 'ddp') });
    expect(r.error).toBeUndefined();
    const privacy = r.result!.privacy as { mode: string; tolerated: number; minHonestShares: number; spent: { rho: number } };
    expect(privacy).toMatchObject({ mode: 'distributed-dp', tolerated: 0, minHonestShares: 3 });
    expect(privacy.spent.rho).toBeLessThanOrEqual(0.05);
    for (const row of r.result!.rows) {
      const truth = persons.flat().filter((p) => p.gender_concept_id === row.gender_concept_id).length;
      // central σ² = 1/(2 · 0.025) = 20 for the count.
      expect(row.count_std as number).toBeGreaterThan(Math.sqrt(20) * 0.99);
      expect(Math.abs((row.count as number) - truth)).toBeLessThan(6 * (row.count_std as number));
    }
  });

  it("no HE secret key bytes reach the coordinator's state folder, logs or job records", async () => {
    const secrets = [await loadHeKeyFolder(join(keyDir, 'none')), await loadHeKeyFolder(join(keyDir, 'ddp'))].map((k) => k.secretKey.exportBytes());
    // Positive control: the scan finds the key where it is (the researcher's key folder).
    const keyFile = readFileSync(join(keyDir, 'none', 'secret.key'));
    expect(needles(secrets[0]!).every((n) => typeof n === 'string' || contains(keyFile, n))).toBe(true);
    const haystacks: (Buffer | string)[] = filesUnder(join(mesh.dir, 'coordinator')).map((f) => readFileSync(f));
    haystacks.push(logLines.join('\n'));
    const jobs = await mesh.coordinator.listJobs({ name: 'admin', isAdmin: true }, 100);
    for (const j of jobs) {
      const full = await mesh.coordinator.getJob({ name: 'admin', isAdmin: true }, j.id);
      haystacks.push(JSON.stringify(full), Buffer.from(full.resultCiphertexts ?? new Uint8Array()), JSON.stringify(full.spec));
    }
    expect(haystacks.length).toBeGreaterThan(3);
    for (const secret of secrets) for (const n of needles(secret)) for (const h of haystacks) expect(contains(h, n)).toBe(false);
  });
});
