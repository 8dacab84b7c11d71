/**
 * Reads the domain's consent records from its data folder: FHIR R4 `Consent` resources in NDJSON files
 * (`Consent*.ndjson`, one resource a line) or in Bundles (`*.json` whose entries include Consents), and the
 * OMOP-site table `consent.csv` (`person_id,purpose,decision,start,end`, read by DuckDB). Bounded: a file over
 * MAX_CONSENT_FILE_BYTES and a record count over MAX_CONSENT_RECORDS are refused. Problems are the domain's own
 * (they stay in its log), listed, and make the load fail: a consent file half understood must not silently
 * include persons who opted out.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteLiteral } from '../data/database.js';
import { parseConsentRow, parseFhirConsent, type PatientConsent } from './consent.js';

export const MAX_CONSENT_FILE_BYTES = 512 * 1024 * 1024;
export const MAX_CONSENT_RECORDS = 5_000_000;
export const CONSENT_TABLE_FILE = 'consent.csv';
const MAX_PROBLEMS = 20;

export interface ConsentLoad {
  consents: PatientConsent[];
  /** Resources skipped (inactive, out of scope, no provision), by reason. */
  skipped: Record<string, number>;
  files: string[];
}

/** @throws RangeError listing the first problems (file and line) */
export async function loadConsents(dataDir: string, conn: DuckDBConnection): Promise<ConsentLoad> {
  const consents: PatientConsent[] = [];
  const skipped: Record<string, number> = {};
  const problems: string[] = [];
  const files: string[] = [];
  const add = (where: string, r: ReturnType<typeof parseFhirConsent>): void => {
    if (!r.ok) problems.push(r.problem);
    else if ('skipped' in r) skipped[r.skipped] = (skipped[r.skipped] ?? 0) + 1;
    else consents.push(r.consent);
    if (consents.length > MAX_CONSENT_RECORDS) throw new RangeError(`${where}: more than ${MAX_CONSENT_RECORDS} consent records`);
  };
  const names = existsSync(dataDir) ? readdirSync(dataDir).sort() : [];
  for (const name of names) {
    const path = join(dataDir, name);
    const isNdjson = /^Consent.*\.ndjson$/i.test(name);
    const isBundle = /\.json$/i.test(name) && !/^fedmesh\./.test(name);
    if (!isNdjson && !isBundle) continue;
    const size = statSync(path).size;
    if (size > MAX_CONSENT_FILE_BYTES) throw new RangeError(`${name}: ${size} bytes, over the ${MAX_CONSENT_FILE_BYTES}-byte limit for consent files`);
    const text = readFileSync(path, 'utf8');
    if (isNdjson) {
      files.push(name);
      text.split('\n').forEach((line, k) => {
        if (line.trim() === '') return;
        let r: unknown;
        try {
          r = JSON.parse(line);
        } catch {
          problems.push(`${name}:${k + 1}: not valid JSON`);
          return;
        }
        add(`${name}:${k + 1}`, parseFhirConsent(r, `${name}:${k + 1}`));
      });
    } else {
      if (!text.includes('"Consent"')) continue;
      let bundle: { resourceType?: unknown; entry?: Array<{ resource?: { resourceType?: unknown } }> };
      try {
        bundle = JSON.parse(text) as typeof bundle;
      } catch {
        continue; // not a bundle of ours: other ingesters report unreadable JSON
      }
      if (bundle.resourceType !== 'Bundle' || !Array.isArray(bundle.entry)) continue;
      files.push(name);
      bundle.entry.forEach((e, k) => {
        if (e?.resource?.resourceType === 'Consent') add(`${name} entry ${k}`, parseFhirConsent(e.resource, `${name} entry ${k}`));
      });
    }
  }
  const table = join(dataDir, CONSENT_TABLE_FILE);
  if (existsSync(table)) {
    files.push(CONSENT_TABLE_FILE);
    if (statSync(table).size > MAX_CONSENT_FILE_BYTES) throw new RangeError(`${CONSENT_TABLE_FILE}: over the ${MAX_CONSENT_FILE_BYTES}-byte limit for consent files`);
    const rows = (await conn.runAndReadAll(`SELECT * FROM read_csv(${quoteLiteral(table)}, header = true, all_varchar = true) LIMIT ${MAX_CONSENT_RECORDS + 1}`)).getRowObjectsJS();
    for (const [k, row] of rows.entries()) {
      const r = parseConsentRow(row as never, `${CONSENT_TABLE_FILE}:${k + 2}`);
      if (!r.ok) problems.push(r.problem);
      else consents.push(r.consent);
    }
    if (consents.length > MAX_CONSENT_RECORDS) throw new RangeError(`${CONSENT_TABLE_FILE}: more than ${MAX_CONSENT_RECORDS} consent records`);
  }
  if (problems.length > 0) {
    const more = problems.length > MAX_PROBLEMS ? ` (and ${problems.length - MAX_PROBLEMS} more)` : '';
    throw new RangeError(`consent records cannot be applied: ${problems.slice(0, MAX_PROBLEMS).join('; ')}${more}`);
  }
  return { consents, skipped, files };
}
