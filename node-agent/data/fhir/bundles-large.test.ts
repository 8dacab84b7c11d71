/**
 * Red team 41 (B, F6): a flat bundle of 200 000 kept resources overflowed one spread call (`lines.push(...out)`) and
 * was refused as "a resource is nested too deeply", which it was not; and all files' lines were one string, so a
 * folder past V8's string limit failed as "Invalid string length". Lines are now appended per file in pieces.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unwrapJsonFiles } from './bundles.js';

describe('a large flat FHIR bundle', () => {
  it('200 000 flat Observations in one bundle are all unwrapped, beside a second file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedmesh-fhir-flat-'));
    try {
      const entry = Array.from({ length: 200_000 }, (_, i) => ({ resource: { resourceType: 'Observation', id: `o${i}`, status: 'final', subject: { reference: 'Patient/p1' }, valueQuantity: { value: 70 } } }));
      await writeFile(join(dir, 'flat.json'), JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry }));
      await writeFile(join(dir, 'one.json'), JSON.stringify({ resourceType: 'Observation', id: 'x', status: 'final' }));
      const out = join(dir, 'out.ndjson');
      const r = await unwrapJsonFiles([join(dir, 'flat.json'), join(dir, 'one.json')], ['Observation'], out);
      expect(r.errors).toEqual([]);
      expect(r.kept).toBe(200_001);
      const text = await readFile(out, 'utf8');
      expect(text.split('\n').filter((l) => l.length > 0)).toHaveLength(200_001);
      expect(text.endsWith('"id":"x","status":"final"}}\n')).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('control: a resource nested thousands of levels deep is still that file\'s error, and an empty run writes an empty file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedmesh-fhir-deep-'));
    try {
      let deep = '{"resourceType":"Observation","id":"d","x":';
      deep += '['.repeat(20_000) + ']'.repeat(20_000) + '}';
      await writeFile(join(dir, 'deep.json'), deep);
      const r = await unwrapJsonFiles([join(dir, 'deep.json')], ['Observation'], join(dir, 'out.ndjson'));
      expect(r.kept).toBe(0);
      expect(r.errors.map((e) => e.message).join(' ')).toMatch(/nested too deeply|malformed JSON/);
      expect(await readFile(join(dir, 'out.ndjson'), 'utf8')).toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
