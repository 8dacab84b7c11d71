import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { gibleedDir } from '../reference/circe-reference.js';

/** GiBleed's public OMOP vocabulary tables. */
export const GIBLEED_VOCABULARY = ['concept', 'concept_ancestor'] as const;

/**
 * Splits GiBleed by person (person_id mod `sites`) into `outDir/site-1 …`, as Parquet written by DuckDB: the
 * `personTables` filtered, the vocabulary copied whole to the sites listed in `withVocabulary` (default: every site).
 * Tables missing from the data are skipped.
 */
export async function splitGiBleed(outDir: string, sites: number, personTables: readonly string[], withVocabulary?: readonly number[]): Promise<string[]> {
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  const dirs: string[] = [];
  try {
    for (let s = 0; s < sites; s++) {
      const d = join(outDir, `site-${s + 1}`);
      await mkdir(d, { recursive: true });
      dirs.push(d);
      const vocabulary = withVocabulary === undefined || withVocabulary.includes(s) ? GIBLEED_VOCABULARY : [];
      for (const t of [...personTables, ...vocabulary]) {
        const src = join(gibleedDir, `${t}.csv`);
        if (!existsSync(src)) continue;
        const filter = personTables.includes(t) ? ` WHERE CAST(person_id AS BIGINT) % ${sites} = ${s}` : '';
        await conn.run(`COPY (SELECT * FROM read_csv('${src}', header = true, auto_detect = true)${filter}) TO '${join(d, `${t}.parquet`)}' (FORMAT parquet)`);
      }
    }
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
  return dirs;
}
