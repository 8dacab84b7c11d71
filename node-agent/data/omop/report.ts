/** What a format-specific ingest hands back to the agent's ingest. */

/** One problem found in an input file; `line` is 1-based where known. */
export interface IngestIssue {
  file: string;
  line?: number;
  message: string;
  /** The product the issue is about, when it is about one. */
  product?: string;
}

export interface FormatIngestReport {
  /** Tables created or replaced, sorted. */
  products: string[];
  /** Warnings on a successful ingest (errors are thrown as a FedmeshError listing them). */
  issues: IngestIssue[];
  /** Row count per product. */
  rows: Record<string, number>;
}

/** `file:line: message`, the form issues take in error messages and logs. */
export function formatIssue(issue: IngestIssue): string {
  return `${issue.file}${issue.line === undefined ? '' : `:${issue.line}`}: ${issue.message}`;
}
