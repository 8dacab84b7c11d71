import { awkwardString, extremeNumber, mutate, mutateText, type Json } from './mutate.js';
import type { FuzzRand } from './rand.js';
import { seedSpecs, targetedSpec } from './seed-specs.js';
import type { CoordinatorMethod } from './wire.js';

/**
 * One fuzz message for a Coordinator method: typed fields (`fields`, encoded by proto-loader) or raw bytes
 * (`raw`, sent as the request exactly). `spec` keeps the JSON value behind a SubmitJob so gates and the
 * shrinker can look at structure.
 */
export interface CoordinatorCase {
  method: CoordinatorMethod;
  /** Administrator certificate instead of the researcher's. */
  asAdmin: boolean;
  fields?: Record<string, unknown>;
  raw?: Uint8Array;
  spec?: Json;
  /** How the case was made, for the report. */
  origin: string;
}

/** Job ids the campaign has seen succeed at submission, so GetJob and WatchJob also hit real jobs. */
export interface KnownIds {
  jobIds: string[];
}

function jobId(r: FuzzRand, known: KnownIds): string {
  if (known.jobIds.length > 0 && r.chance(0.4)) {
    const id = r.pick(known.jobIds);
    return r.chance(0.8) ? id : mutateText(r, id);
  }
  return r.pick(['', 'job-1', '00000000-0000-0000-0000-000000000000', "' OR '1'='1", '../coord', awkwardString(r)]);
}

function protobufNoise(r: FuzzRand): Uint8Array {
  switch (r.int(5)) {
    case 0:
      return r.bytes(r.pick([0, 1, 2, 7, 64, 1_000, 100_000]));
    case 1: // field 1, length-delimited, claiming far more bytes than follow
      return Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x41]);
    case 2: // field 1 as a varint where a string is expected, then a group start tag
      return Uint8Array.from([0x08, 0x96, 0x01, 0x0b]);
    case 3: // a deeply nested unknown submessage
      return Uint8Array.from(Array.from({ length: 200 }, () => [0x7a, 0x00]).flat());
    default: {
      const text = Buffer.from(r.pick(['{"kind":"aggregate"}', 'x', '']), 'utf8');
      return Uint8Array.from([0x0a, text.length, ...text, ...r.bytes(r.int(8))]);
    }
  }
}

const SEEDS = seedSpecs();
/** Largest spec_json the mutator sends (a few MB: big enough to hurt, far below the 64 MiB transport limit). */
export const MAX_SPEC_CHARS = 4_000_000;

/** A SubmitJob spec: a seed, a structural mutant of one, a targeted hostile spec, or damaged JSON text. */
export function submitJobCase(r: FuzzRand): CoordinatorCase {
  const roll = r.int(100);
  if (roll < 8) {
    const spec = r.pick(SEEDS);
    return { method: 'SubmitJob', asAdmin: false, fields: { specJson: JSON.stringify(spec) }, spec, origin: 'seed' };
  }
  if (roll < 20) {
    const spec = targetedSpec(r);
    return { method: 'SubmitJob', asAdmin: false, fields: { specJson: JSON.stringify(spec) }, spec, origin: 'targeted' };
  }
  if (roll < 80) {
    let spec = mutate(r, r.pick(SEEDS), 3);
    let specJson = JSON.stringify(spec);
    // Mutations compound (a huge list of big values): keep one message within MAX_SPEC_CHARS so a run stays bounded.
    if (specJson.length > MAX_SPEC_CHARS) {
      spec = mutate(r, r.pick(SEEDS), 1);
      specJson = JSON.stringify(spec);
    }
    return { method: 'SubmitJob', asAdmin: false, fields: { specJson }, spec, origin: 'mutant' };
  }
  if (roll < 92) return { method: 'SubmitJob', asAdmin: false, fields: { specJson: mutateText(r, JSON.stringify(r.pick(SEEDS))) }, origin: 'text' };
  if (roll < 96) return { method: 'SubmitJob', asAdmin: r.chance(0.5), fields: { specJson: JSON.stringify(r.pick(SEEDS)) }, origin: 'seed-as-role' };
  return { method: 'SubmitJob', asAdmin: false, raw: protobufNoise(r), origin: 'raw' };
}

/** A case for any Coordinator method. */
export function coordinatorCase(method: CoordinatorMethod, r: FuzzRand, known: KnownIds): CoordinatorCase {
  if (method === 'SubmitJob') return submitJobCase(r);
  if (r.chance(0.05)) return { method, asAdmin: r.chance(0.3), raw: protobufNoise(r), origin: 'raw' };
  const asAdmin = r.chance(0.3);
  switch (method) {
    case 'GetJob':
    case 'WatchJob':
      return { method, asAdmin, fields: { jobId: jobId(r, known) }, origin: 'fields' };
    case 'ListJobs':
      return { method, asAdmin, fields: { limit: r.pick([0, 1, 50, -1, -(2 ** 31), 2 ** 31 - 1, 1_000_000, r.int(500)]) }, origin: 'fields' };
    case 'ListAgents':
      return { method, asAdmin, fields: {}, origin: 'fields' };
    case 'GetBudget':
      return { method, asAdmin, fields: { researcher: r.pick(['', 'fuzzer', 'alice', 'admin', awkwardString(r)]) }, origin: 'fields' };
    case 'SetBudget': {
      const num = (): number => (r.chance(0.3) ? r.pick([Number.NaN, Infinity, -Infinity, 1e21, 0.99, -1, 0, 1, 5, 1e-6]) : extremeNumber(r));
      return {
        method,
        // Mostly as administrator (the role that may set budgets), but never for the researcher the fuzzer submits as.
        asAdmin: r.chance(0.8),
        fields: { researcher: r.pick(['alice', 'bob', '', awkwardString(r)]), product: r.pick(['person', 'measurement', '', awkwardString(r)]), population: r.pick(['', '', 'person', 'device', awkwardString(r)]), epsilon: num(), delta: num() },
        origin: 'fields',
      };
    }
  }
}

/** The size of a JSON value at a glance (a truncated message hides what makes it big): depth, widest list, longest string. */
export function describeShape(v: Json): string {
  let depth = 0;
  let widest = 0;
  let longest = 0;
  const stack: [Json, number][] = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    depth = Math.max(depth, d);
    if (typeof x === 'string') longest = Math.max(longest, x.length);
    else if (Array.isArray(x)) {
      widest = Math.max(widest, x.length);
      for (const y of x) stack.push([y, d + 1]);
    } else if (x !== null && typeof x === 'object') for (const y of Object.values(x)) stack.push([y, d + 1]);
  }
  return `[depth ${depth}, widest list ${widest}, longest string ${longest}, ${JSON.stringify(v).length} characters]`;
}

/** A short description of a case for logs and failure reports, cut to `max` characters. */
export function describeCase(c: CoordinatorCase, max = 600): string {
  const body = c.raw ? `raw ${c.raw.length} bytes: ${Buffer.from(c.raw.slice(0, 48)).toString('hex')}` : JSON.stringify(c.fields);
  const s = `${c.method}${c.asAdmin ? ' (admin)' : ''} [${c.origin}]${c.spec !== undefined ? ` ${describeShape(c.spec)}` : ''} ${body}`;
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} characters)`;
}
