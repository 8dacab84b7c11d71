import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../client/tools/synth/index.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

const CLI = resolve(import.meta.dirname, '../../dist/client/cli/main.js');

function fedmesh(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', XDG_CONFIG_HOME: join(tmpdir(), 'fedmesh-no-config') };
    execFile(process.execPath, [CLI, ...args], { timeout: 120_000, env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => res({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }));
  });
}

/** Minimal CSV reader for the test (fields here hold no quotes or commas). */
function csvRows(text: string): Record<string, string>[] {
  const [head, ...rows] = text.trim().split('\n').map((l) => l.replace(/\r$/, '').split(','));
  return rows.map((r) => Object.fromEntries(head!.map((h, i) => [h, r[i] ?? ''])));
}

const diabetes = { name: 'type 2 diabetes', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' } };

/** Issue 14 item 9: concept names next to concept ids in the CLI's tables, CSV and JSON (synthetic sites carry a vocabulary). */
describe('fedmesh prints concept names beside concept ids', () => {
  let mesh: TestMesh;
  let conn: string[];
  let def: string;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    mesh = await startMesh({ agentNames: ['s1', 's2'] });
    const synth = await synthesize({ outDir: join(mesh.dir, 'synth'), sites: 2, persons: 400, seed: 11, format: 'parquet' });
    // The synthetic vocabulary is a fixed list, not derived from the sites' data: declared complete, so the concept
    // lists and gender levels the researcher supplies may be named (without it only data-derived keys are).
    for (const [i, s] of synth.sites.entries()) await mesh.startAgent(`s${i + 1}`, s.dir, { allowModes: ['none'], minCellSize: 5 }, { vocabularyComplete: true });
    await mesh.waitForAgents(2, 60_000);
    conn = ['--coordinator', `127.0.0.1:${mesh.server.port}`, '--tls-dir', mesh.tlsDir];
    def = join(mesh.dir, 'diabetes.json');
    await writeFile(def, JSON.stringify(diabetes));
  }, 120_000);
  afterAll(async () => mesh?.close());

  it('characterize: the table shows concept_id and name side by side within 120 columns; the CSV concept_name column is filled', async () => {
    const args = ['characterize', def, '--conditions', '320128', '--drugs', '1503297', '--privacy', 'none', ...conn];
    const t = await fedmesh(args);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/320128\s*│\s*Essential hypertension\s*│/);
    expect(t.stdout).toMatch(/1503297\s*│\s*metformin\s*│/);
    expect(t.stdout).toMatch(/male\s*│\s*8507\s*│\s*MALE/);
    for (const line of t.stdout.split('\n')) expect([...line].length, line).toBeLessThanOrEqual(120);
    const c = await fedmesh([...args, '--format', 'csv']);
    expect(c.code, c.stderr).toBe(0);
    const rows = csvRows(c.stdout);
    expect(rows.find((r) => r.section === 'conditions')).toMatchObject({ concept_id: '320128', concept_name: 'Essential hypertension' });
    expect(rows.find((r) => r.section === 'drugs')).toMatchObject({ concept_id: '1503297', concept_name: 'metformin' });
    expect(rows.find((r) => r.section === 'gender' && r.concept_id === '8532')).toMatchObject({ concept_name: 'FEMALE' });
  }, 120_000);

  it('query --group-by a concept column: <x>_concept_name beside it in the table, CSV and JSON', async () => {
    const args = ['query', '--product', 'person', '--count', '--group-by', 'gender_concept_id', '--privacy', 'none', ...conn];
    const t = await fedmesh(args);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/gender_concept_id\s*│\s*gender_concept_name\s*│\s*count/);
    expect(t.stdout).toMatch(/8507\s*│\s*MALE\s*│/);
    const c = await fedmesh([...args, '--format', 'csv']);
    expect(c.stdout.split(/\r?\n/)[0]).toBe('gender_concept_id,gender_concept_name,count');
    const j = JSON.parse((await fedmesh([...args, '--format', 'json'])).stdout) as { rows: Record<string, unknown>[]; conceptNames: Record<string, string> };
    expect(j.conceptNames).toEqual({ 8507: 'MALE', 8532: 'FEMALE' });
    expect(j.rows.find((r) => r.gender_concept_id === 8532)).toMatchObject({ gender_concept_name: 'FEMALE' });
  }, 120_000);
});
