import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, stopAll, type ManagedProcess } from '../../client/cli/commands/spawn-mesh.js';
import { synthesize } from '../../client/tools/synth/index.js';
import { SUPPLIED_IDS_NOTE } from '../../common/job/index.js';
import { BUILT, CLI } from '../helpers/fedmesh-cli.js';
import { startMesh, type TestMesh } from '../helpers/mesh.js';

/**
 * `fedmesh agent --vocabulary-complete` as the README documents it: the declaration is published in the catalogue,
 * and only then are ids the researcher supplied (characterisation concept lists) named. Negative control: the same
 * site started without the flag.
 */
describe('fedmesh agent --vocabulary-complete', () => {
  let mesh: TestMesh;
  let data: string;
  const procs: ManagedProcess[] = [];

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    mesh = await startMesh({ agentNames: [], insecure: true });
    const synth = await synthesize({ outDir: join(mesh.dir, 'synth'), sites: 1, persons: 800, seed: 11, format: 'parquet' });
    data = synth.sites[0]!.dir;
  }, 120_000);
  afterAll(async () => {
    await stopAll(procs);
    await mesh?.close();
  });

  it('publishes the declaration, and supplied concept ids get names only from the declaring agent', async () => {
    const agent = (name: string, extra: string[]): string[] => ['agent', '--coordinator', `127.0.0.1:${mesh.server.port}`, '--name', name, '--data', data, '--state', join(mesh.dir, name), '--insecure', '--allow-modes', 'none', '--min-cell-size', '5', ...extra, '--log-format', 'silent'];
    procs.push(startProcess('full', agent('full', ['--vocabulary-complete']), BUILT));
    procs.push(startProcess('plain', agent('plain', []), BUILT));
    await mesh.waitForAgents(2, 60_000);
    const vocabularyOf = (name: string): unknown => mesh.coordinator.registry.connected().find((a) => a.name === name)?.products.find((p) => p.name === 'concept')?.metadata.vocabulary;
    expect(vocabularyOf('full')).toBe('complete');
    expect(vocabularyOf('plain')).toBeUndefined();
    const spec = (site: string): Record<string, unknown> => ({
      kind: 'characterize',
      definition: { name: 'diabetes', entry: { domain: 'condition', concepts: { include: [{ conceptId: 201826 }] }, occurrence: 'first' } },
      conditionConcepts: [320128],
      drugConcepts: [],
      windowDays: [-36500, 36500],
      agents: [site],
      privacy: { mode: 'none' },
    });
    const full = await mesh.client.run(spec('full'));
    expect(full.error).toBeUndefined();
    expect(full.result!.conceptNames).toMatchObject({ 320128: 'Essential hypertension', 8507: 'MALE' });
    const plain = await mesh.client.run(spec('plain'));
    expect(plain.state).toBe('succeeded');
    expect(plain.result!.conceptNames ?? {}).toEqual({});
    expect(plain.result!.notes).toContain(SUPPLIED_IDS_NOTE);
  }, 120_000);
});
