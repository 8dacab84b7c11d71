import type { AgentSessionReport } from './agent-stream.js';
import type { CoordinatorCase } from './coordinator-cases.js';
import type { Json } from './mutate.js';
import type { CallOutcome } from './wire.js';

/**
 * KNOWN FAILURES, gated so CI stays green until the fixes from the other issue-8 workstreams are merged. The lead
 * empties this list after merging: every entry must then disappear with no other test change. The campaign prints
 * how many inputs each gate held back, so nothing is skipped silently.
 *
 * - `skip` gates keep an input from being sent at all (it would hang or kill the mesh and end the run);
 * - `tolerate` gates accept a known-wrong outcome (e.g. INTERNAL instead of INVALID_ARGUMENT) and count it;
 * - `skipArrow` gates keep the hostile agent from sending some kinds of Arrow bytes.
 */
export interface KnownFailureGate {
  id: string;
  /** The issue-8 item whose fix removes this gate. */
  item: string;
  description: string;
  skip?: (c: CoordinatorCase) => boolean;
  tolerate?: (c: CoordinatorCase | AgentSessionReport, o: CallOutcome) => boolean;
  skipArrow?: (what: string) => boolean;
}

function specOf(c: CoordinatorCase): Json | undefined {
  if (c.spec !== undefined) return c.spec;
  const text = c.fields?.specJson;
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}

/** Visits every object key and value of a JSON value (iteratively: specs may be thousands of levels deep). */
function some(v: Json | undefined, pred: (key: string | undefined, value: Json, depth: number) => boolean): boolean {
  if (v === undefined) return false;
  const stack: [string | undefined, Json, number][] = [[undefined, v, 1]];
  while (stack.length > 0) {
    const [k, x, d] = stack.pop()!;
    if (pred(k, x, d)) return true;
    if (Array.isArray(x)) for (const y of x) stack.push([undefined, y, d + 1]);
    else if (x !== null && typeof x === 'object') for (const [kk, y] of Object.entries(x)) stack.push([kk, y, d + 1]);
  }
  return false;
}

const isObj = (v: Json | undefined): v is { [k: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);

export const KNOWN_FAILURES: KnownFailureGate[] = [
  {
    id: 'undecodable-request-internal',
    item: '10',
    description: 'bytes that are not a protobuf message get INTERNAL "Error deserializing request" (grpc-js default) instead of INVALID_ARGUMENT',
    tolerate: (c, o) => 'method' in c && c.raw !== undefined && o.code === 13 && o.details.startsWith('Error deserializing request'),
  },
  {
    id: 'non-ascii-field-crash',
    item: '9/10',
    description: 'a spec whose object key has characters outside printable ASCII crashes the coordinator (the key lands in the fedmesh-field status metadata; grpc-js throws "Metadata string value contains illegal characters")',
    skip: (c) => c.method === 'SubmitJob' && some(specOf(c), (k) => k !== undefined && /[^\x20-\x7e]/.test(k)),
  },
  {
    id: 'deep-or-wide-cohort',
    item: '6',
    description: 'Circe/native cohort definitions nested deeper than 40 JSON levels or with lists over 300 items: seconds of CPU at admission, INTERNAL near depth 4,000',
    skip: (c) => {
      const s = specOf(c);
      if (!isObj(s) || !['cohort', 'characterize', 'survival'].includes(String(s.kind))) return false;
      return some(s, (_k, v, d) => d > 40 || (Array.isArray(v) && v.length > 300));
    },
  },
  {
    id: 'extreme-privacy-parameters',
    item: '4',
    description: 'epsilon, delta or rho below 1e-12 or above 1e12 (e.g. rho = 1e-300) can spin the coordinator in noise calibration',
    skip: (c) => {
      const s = specOf(c);
      return isObj(s) && some(s.privacy, (_k, v) => typeof v === 'number' && v !== 0 && (Math.abs(v) < 1e-12 || Math.abs(v) > 1e12));
    },
  },
  {
    id: 'oversized-results',
    item: '7',
    description: 'public group keys over 1,000 combinations (10,000 keys with one count: GetJob, ListJobs and every later job stall for more than 5 s), or keys × histogram bins over 100,000 cells (results over the 64 MiB message limit)',
    skip: (c) => {
      const s = specOf(c);
      if (!isObj(s)) return false;
      let keys = 1;
      if (isObj(s.groupKeys)) for (const v of Object.values(s.groupKeys)) keys *= Array.isArray(v) ? Math.max(1, v.length) : 1;
      let bins = 1;
      if (Array.isArray(s.measures)) for (const m of s.measures) if (isObj(m) && Array.isArray(m.bins)) bins += m.bins.length;
      return keys > 1_000 || keys * bins > 100_000;
    },
  },
  {
    id: 'set-budget-extreme-internal',
    item: '11',
    description: 'SetBudget with an extreme epsilon or delta (e.g. epsilon = 1e175) answers INTERNAL',
    tolerate: (c, o) => 'method' in c && c.method === 'SetBudget' && c.raw === undefined && o.code === 13 && o.details === 'internal error',
  },
  {
    id: 'hostile-arrow-values-internal',
    item: '5',
    description: 'a well-formed Arrow reply with hostile values (count 2^63 - 1 or -2^63) makes the job fail with INTERNAL instead of a task failure naming the agent',
    tolerate: (c, o) => 'sessionKind' in c && o.details === 'job ended with error code INTERNAL',
  },
  {
    id: 'damaged-arrow-replies',
    item: '5',
    description: 'Arrow replies with overwritten, truncated or trailing bytes can make the coordinator allocate until it dies',
    skipArrow: (what) => /overwritten|word at|truncated|trailing/.test(what),
  },
];
