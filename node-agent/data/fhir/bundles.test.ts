/**
 * Hostile FHIR files at ingest: bundles nested deeper than the call stack allows are unwrapped (the walk is
 * iterative), and a resource nested too deeply to serialise is that file's error, while the other files are read.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unwrapJsonFiles } from './bundles.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function nestedBundles(depth: number): string {
  // Built as text: a JS object this deep could not be stringified to write the file.
  const open = '{"resourceType":"Bundle","entry":[{"resource":';
  const close = '}]}';
  return `${open.repeat(depth)}{"resourceType":"Patient","id":"p1"}${close.repeat(depth)}`;
}

describe('unwrapJsonFiles on hostile nesting', () => {
  it('unwraps a Patient inside 50 000 nested bundles; control: 3 levels', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedmesh-fhir-'));
    dirs.push(dir);
    await writeFile(join(dir, 'deep.json'), nestedBundles(50_000));
    await writeFile(join(dir, 'shallow.json'), nestedBundles(3));
    const out = join(dir, 'out.ndjson');
    const r = await unwrapJsonFiles([join(dir, 'deep.json'), join(dir, 'shallow.json')], ['Patient'], out);
    expect(r.errors).toEqual([]);
    expect(r.kept).toBe(2);
    const lines = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { r: { id: string } });
    expect(lines.map((l) => l.r.id)).toEqual(['p1', 'p1']);
  });

  it('a resource nested too deeply to serialise is its file\'s error; the next file is still read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedmesh-fhir-'));
    dirs.push(dir);
    const deep = `{"resourceType":"Patient","id":"p2","extension":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    await writeFile(join(dir, 'a.json'), deep);
    await writeFile(join(dir, 'b.json'), nestedBundles(1));
    const r = await unwrapJsonFiles([join(dir, 'a.json'), join(dir, 'b.json')], ['Patient'], join(dir, 'out.ndjson'));
    expect(r.kept).toBe(1);
    expect(r.errors).toEqual([expect.objectContaining({ file: join(dir, 'a.json') })]);
  });
});
