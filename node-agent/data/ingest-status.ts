/**
 * The ingest status an agent publishes (in its registration, hence in `fedmesh agents` and `fedmesh catalog`),
 * built from its local ingest report. The local log keeps the exact wording; what is published is bounded and
 * coarsened so that it carries no row-level data:
 * - file names are relative to the data folder (no paths of the host), line and row positions are dropped;
 * - every count in a message follows the quality-metric rule of `catalog/disclosure.ts`: below k it reads `<k`,
 *   from k on it is rounded to two significant figures ("3 duplicate person_id values" → "<10 duplicate …");
 * - messages are cut at `INGEST_STATUS_LIMITS.maxMessageChars`, and at most `maxNotices` notices are sent (errors
 *   first), with the number left out.
 * The messages themselves never quote values: ingest errors are scrubbed of DuckDB's quotes (`read-error.ts`) and
 * warnings name columns, tables and files only.
 */
import { INGEST_STATUS_LIMITS, type IngestNotice, type IngestStatus } from '../../common/agent-protocol.js';
import { checkMinCellSize, roundTwoSignificant } from './catalog/disclosure.js';
import type { FolderIngestReport } from './ingest-folder.js';
import { inFolder } from './ingest-folder.js';

const L = INGEST_STATUS_LIMITS;

function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/**
 * A message made fit to publish: positions dropped, counts coarsened with k = `minCellSize`, length bounded.
 * Numbers inside names (`icd10_code`, `v5.4`) are not counts and stay; every other number, decimals and a number
 * ending a sentence included, is coarsened.
 * @throws RangeError unless `minCellSize` is an integer ≥ 1
 */
export function coarsenNoticeText(text: string, minCellSize: number): string {
  checkMinCellSize(minCellSize);
  const out = text
    .split('\n')[0]!
    .replace(/\s*\((?:first )?(?:at|on) (?:row|line):? ?\d+\)/gi, '')
    .replace(/\s*\b(?:at|on) (?:row|line):? ?\d+/gi, '')
    .replace(/(?<![\w.])\d+(?:\.\d+)?(?!\w)/g, (m) => {
      const n = Number(m);
      return n < minCellSize ? `<${minCellSize}` : String(roundTwoSignificant(n));
    });
  return cut(out, L.maxMessageChars);
}

export interface IngestStatusInput {
  report: FolderIngestReport;
  dataDir: string;
  /** Problems in `fedmesh.products.json` (their messages name the file and field). */
  manifestIssues?: readonly { message: string }[];
  minCellSize: number;
  atMs: number;
}

/** The bounded, coarsened status of one ingest, as registered with the coordinator. */
export function publicIngestStatus(input: IngestStatusInput): IngestStatus {
  const { report, dataDir, minCellSize: k } = input;
  const errors: IngestNotice[] = [];
  const warnings: IngestNotice[] = [];
  const failed: string[] = [];
  const notice = (severity: IngestNotice['severity'], source: string, message: string): IngestNotice => ({
    severity,
    source: cut(inFolder(dataDir, source), L.maxSourceChars),
    message: coarsenNoticeText(message, k),
  });
  for (const f of report.formats) {
    if (f.action !== 'failed') continue;
    const kind = f.kind.split(' ')[0]!;
    failed.push(kind);
    errors.push(notice('error', kind, `${kind.toUpperCase()} ingest failed; the agent serves its previous ${kind.toUpperCase()} data, if any: ${f.error ?? 'error'}`));
    for (const i of f.issues ?? []) errors.push(notice('error', i.file, i.message));
  }
  for (const f of report.files) {
    if (f.action !== 'failed') continue;
    failed.push(f.file);
    errors.push(notice('error', f.file, `not loaded (product ${f.product} keeps its previous version, if any): ${f.error ?? 'error'}`));
  }
  for (const w of report.warnings) warnings.push(notice('warning', w.file, w.message));
  for (const m of input.manifestIssues ?? []) warnings.push(notice('warning', 'fedmesh.products.json', m.message));
  const all = [...errors, ...warnings];
  return {
    state: failed.length > 0 ? 'failed' : all.length > 0 ? 'warnings' : 'ok',
    failed: failed.slice(0, L.maxFailed).map((f) => cut(inFolder(dataDir, f), L.maxSourceChars)),
    notices: all.slice(0, L.maxNotices),
    omitted: Math.max(0, all.length - L.maxNotices),
    atMs: input.atMs,
  };
}
