/**
 * FHIR JSON files (Bundles of any type, or single resources) unwrapped into one NDJSON file of
 * `{"f": file, "i": ordinal, "r": resource}` lines that DuckDB then reads like Bulk Data. JavaScript is needed
 * here only because `entry[].resource` nests resources at varying depths.
 */
import { createReadStream } from 'node:fs';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { IngestIssue } from '../omop/report.js';

export interface UnwrapResult {
  /** Number of resources written. */
  kept: number;
  /** Resources of other types, by type. */
  skipped: Map<string, number>;
  errors: IngestIssue[];
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The id carried by a fullUrl: `urn:uuid:X` → X, `…/Patient/X` → X. */
export function idFromFullUrl(fullUrl: string): string | undefined {
  const m = /^urn:(?:uuid|oid):(.+)$/.exec(fullUrl) ?? /\/([^/]+?)(?:\/_history\/[^/]*)?$/.exec(fullUrl);
  return m?.[1];
}

/** 1-based line of a JSON.parse failure, from the position or line V8 reports. */
export function jsonErrorLine(text: string, err: unknown): number | undefined {
  const msg = err instanceof Error ? err.message : '';
  const line = /line (\d+)/.exec(msg);
  if (line !== null) return Number(line[1]);
  const pos = /position (\d+)/.exec(msg);
  if (pos === null) return undefined;
  const upTo = text.slice(0, Number(pos[1]));
  let n = 1;
  for (let i = 0; i < upTo.length; i += 1) if (upTo.charCodeAt(i) === 10) n += 1;
  return n;
}

/**
 * The resources of a file, Bundles unwrapped at any depth, in document order. Iterative (an explicit stack of
 * entry lists), so a file of bundles nested thousands deep cannot overflow the call stack (red team 30 suspicion).
 */
function collect(root: Json, kept: Set<string>, out: Json[], skipped: Map<string, number>): void {
  const stack: { entries: unknown[]; at: number }[] = [];
  const visit = (resource: Json): void => {
    const type = typeof resource['resourceType'] === 'string' ? (resource['resourceType'] as string) : '(no resourceType)';
    if (type === 'Bundle') stack.push({ entries: Array.isArray(resource['entry']) ? (resource['entry'] as unknown[]) : [], at: 0 });
    else if (kept.has(type)) out.push(resource);
    else skipped.set(type, (skipped.get(type) ?? 0) + 1);
  };
  visit(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.at >= top.entries.length) {
      stack.pop();
      continue;
    }
    const entry = top.entries[top.at++];
    if (!isObject(entry) || !isObject(entry['resource'])) continue;
    const inner = entry['resource'];
    if (typeof inner['id'] !== 'string' && typeof entry['fullUrl'] === 'string') {
      const id = idFromFullUrl(entry['fullUrl']);
      if (id !== undefined) inner['id'] = id;
    }
    visit(inner);
  }
}

/**
 * Unwrap `files` into `outFile` (NDJSON), keeping resources whose type is in `keptTypes`. A file that is not
 * valid JSON or not a FHIR resource is an error with its line where known; nothing else stops the run, so
 * every bad file is reported at once.
 */
export async function unwrapJsonFiles(files: readonly string[], keptTypes: readonly string[], outFile: string): Promise<UnwrapResult> {
  const kept = new Set(keptTypes);
  const skipped = new Map<string, number>();
  const errors: IngestIssue[] = [];
  // Each file's lines are appended as it is read: memory is bounded by the largest file, not by the whole folder
  // (red team 41, B F6: 3 680 Synthea patients were one string past V8's limit, refused as "Invalid string length").
  await writeFile(outFile, '');
  let keptLines = 0;
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      errors.push({ file, message: `could not be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}` });
      continue;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      const issue: IngestIssue = { file, message: 'malformed JSON' };
      const line = jsonErrorLine(text, err);
      if (line !== undefined) issue.line = line;
      errors.push(issue);
      continue;
    }
    if (!isObject(doc) || typeof doc['resourceType'] !== 'string') {
      errors.push({ file, line: 1, message: 'not a FHIR resource (no resourceType)' });
      continue;
    }
    const found: Json[] = [];
    collect(doc, kept, found, skipped);
    let out: string[];
    try {
      out = found.map((r, i) => JSON.stringify({ f: file, i, r }));
    } catch (err) {
      // JSON.stringify recurses: a resource nested thousands of levels deep is this file's error, not the run's.
      if (!(err instanceof RangeError)) throw err;
      errors.push({ file, message: 'a resource is nested too deeply to be read' });
      continue;
    }
    // Written in pieces: one file of 200 000 resources is not one spread call or one string past V8's limits.
    for (let at = 0; at < out.length; at += 10_000) await appendFile(outFile, `${out.slice(at, at + 10_000).join('\n')}\n`);
    keptLines += out.length;
  }
  return { kept: keptLines, skipped, errors };
}

/**
 * Find every malformed line of an NDJSON file (used only after DuckDB refused the file, to name the lines).
 * @param maxIssues stop listing after this many; a last issue gives the remaining count.
 */
export async function findBadNdjsonLines(file: string, maxIssues = 20): Promise<IngestIssue[]> {
  const issues: IngestIssue[] = [];
  let extra = 0;
  let lineNo = 0;
  const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of rl) {
    lineNo += 1;
    if (line.trim() === '') continue;
    let message: string | undefined;
    try {
      const v: unknown = JSON.parse(line);
      if (!isObject(v)) message = 'not a JSON object';
    } catch {
      message = 'malformed JSON';
    }
    if (message === undefined) continue;
    if (issues.length < maxIssues) issues.push({ file, line: lineNo, message });
    else extra += 1;
  }
  if (extra > 0) issues.push({ file, message: `${extra} more malformed line${extra === 1 ? '' : 's'}` });
  return issues;
}
