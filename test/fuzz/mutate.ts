import type { FuzzRand } from './rand.js';

/**
 * Structural mutation of JSON values: drop, duplicate or retype fields, huge strings, numbers and arrays, deep
 * nesting, NaN-like strings, extreme doubles and awkward unicode. Every size is bounded so one message stays far
 * below the 64 MiB transport limit and a campaign's memory stays predictable.
 */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Largest string, array and nesting depth the mutator makes. */
export const MUTATION_LIMITS = { stringChars: 200_000, arrayItems: 20_000, depth: 2_000 } as const;

const AWKWARD_STRINGS = [
  '', ' ', 'NaN', 'Infinity', '-Infinity', '1e309', '-0', '0x10', '1_000', 'null', 'undefined', 'true',
  '__proto__', 'constructor', 'prototype', 'toString', "'; DROP TABLE person; --", '" OR 1=1 --', 'person_id',
  '\u0000', '\ud800', '\udfff', '\u202e\u202d', 'é', 'e\u0301', '𝔣𝔢𝔡', '🏥🧬', '\t\n\r', '%s%n', '../../etc/passwd',
  'a'.repeat(65), '*', '%', '\\', '{}', '[]',
];

const EXTREME_NUMBERS = [
  0, -0, 1, -1, 0.5, 1e-300, -1e-300, 1e300, -1e300, 5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE,
  2 ** 31, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 2 ** 63, 1e21, 3e-16, 1e-50, 1e-16,
  0.99, 0.999999, 1 - 1e-16, 1 + 1e-15, 1e-6, 100, 101, 1e6, 123456789.123, 16777216, 16777217,
];

export function awkwardString(r: FuzzRand): string {
  switch (r.int(6)) {
    case 0:
      return r.pick(AWKWARD_STRINGS);
    case 1:
      return r.pick(AWKWARD_STRINGS).repeat(r.range(2, 2_000)).slice(0, MUTATION_LIMITS.stringChars);
    case 2:
      return 'x'.repeat(r.pick([100, 1_000, 70_000, MUTATION_LIMITS.stringChars]));
    case 3:
      return String.fromCharCode(...Array.from({ length: r.range(1, 40) }, () => r.int(0x10000)));
    case 4:
      return String(r.pick(EXTREME_NUMBERS));
    default:
      return Array.from({ length: r.range(1, 12) }, () => r.pick('abcdefghijklmnopqrstuvwxyz_0123456789'.split(''))).join('');
  }
}

export function extremeNumber(r: FuzzRand): number {
  return r.chance(0.8) ? r.pick(EXTREME_NUMBERS) : (r.chance(0.5) ? -1 : 1) * 10 ** r.range(-320, 308);
}

const isPrimitive = (v: Json): boolean => v === null || typeof v !== 'object';

/** A small stand-in for `old` when a huge or deep value is built around it (keeps generation cheap). */
function leafOf(r: FuzzRand, old: Json): Json {
  return isPrimitive(old) ? old : r.chance(0.5) ? 1 : 'x';
}

function deepNest(r: FuzzRand, old: Json): Json {
  const leaf = leafOf(r, old);
  const depth = r.pick([10, 50, 200, 1_000, MUTATION_LIMITS.depth]);
  let v: Json = leaf;
  const asObject = r.chance(0.5);
  for (let i = 0; i < depth; i++) v = asObject ? { a: v } : [v];
  return v;
}

/** A hostile replacement for `old`: another type, an extreme of the same type, or a huge or deep value. */
export function hostileValue(r: FuzzRand, old: Json): Json {
  switch (r.int(9)) {
    case 0:
      return null;
    case 1:
      return extremeNumber(r);
    case 2:
      return awkwardString(r);
    case 3:
      return r.chance(0.5);
    case 4:
      return r.chance(0.5) ? {} : [];
    case 5: {
      const item = r.chance(0.3) ? old : leafOf(r, old);
      return Array.from({ length: isPrimitive(item) ? r.pick([2, 100, 5_000, MUTATION_LIMITS.arrayItems]) : r.pick([2, 100, 1_000]) }, () => item);
    }
    case 6:
      return deepNest(r, old);
    case 7:
      return typeof old === 'number' ? r.pick([old * 1e300, -old, old + 0.5, old / 1e300, Math.trunc(old) + 2 ** 53]) : extremeNumber(r);
    default:
      return Array.isArray(old) ? [old] : { value: old };
  }
}

function childKeys(v: Json): (string | number)[] {
  if (Array.isArray(v)) return v.map((_, i) => i);
  if (v !== null && typeof v === 'object') return Object.keys(v);
  return [];
}

function get(v: Json, k: string | number): Json {
  return (v as Record<string | number, Json>)[k] ?? null;
}

/** Every path into `v` (up to `max`), so a mutation can land anywhere, not only at the top. */
function paths(v: Json, max = 400): (string | number)[][] {
  const out: (string | number)[][] = [[]];
  const stack: { v: Json; p: (string | number)[] }[] = [{ v, p: [] }];
  while (stack.length > 0 && out.length < max) {
    const { v: node, p } = stack.pop()!;
    for (const k of childKeys(node)) {
      const q = [...p, k];
      out.push(q);
      stack.push({ v: get(node, k), p: q });
    }
  }
  return out;
}

function clone(v: Json): Json {
  return JSON.parse(JSON.stringify(v)) as Json;
}

/** One structural change at a random place in a copy of `v`. */
export function mutateOnce(r: FuzzRand, v: Json): Json {
  const root = clone(v);
  const all = paths(root);
  const p = r.pick(all);
  if (p.length === 0) return r.chance(0.5) ? hostileValue(r, root) : root;
  const parent = p.slice(0, -1).reduce<Json>((n, k) => get(n, k), root) as Record<string | number, Json> | Json[];
  const key = p[p.length - 1]!;
  const old = get(parent as Json, key);
  const op = r.int(6);
  if (Array.isArray(parent)) {
    const i = key as number;
    if (op === 0) parent.splice(i, 1);
    else if (op === 1) parent.splice(i, 0, clone(old));
    else if (op === 2) parent.push(...Array.from({ length: isPrimitive(old) ? r.pick([10, 1_000, 10_000]) : r.pick([10, 100, 1_000]) }, () => old));
    else parent[i] = hostileValue(r, old);
  } else {
    const obj = parent;
    if (op === 0) delete obj[key];
    else if (op === 1) obj[awkwardString(r).slice(0, 64)] = clone(old);
    else if (op === 2) obj[key] = hostileValue(r, old);
    else if (op === 3) obj[key] = typeof old === 'number' ? extremeNumber(r) : hostileValue(r, old);
    else obj[key] = hostileValue(r, old);
  }
  return root;
}

/** One to `maxSteps` structural mutations; a value already made deep is not mutated further (JSON.stringify recurses). */
export function mutate(r: FuzzRand, v: Json, maxSteps = 3): Json {
  let out = v;
  for (let i = r.range(1, maxSteps); i > 0 && depthOf(out) < 100; i--) out = mutateOnce(r, out);
  return out;
}

/** Nesting depth of a JSON value, computed without recursion. */
export function depthOf(v: Json): number {
  let max = 0;
  const stack: [Json, number][] = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    max = Math.max(max, d);
    if (x !== null && typeof x === 'object') for (const y of Object.values(x)) stack.push([y, d + 1]);
  }
  return max;
}

/** Text-level damage that JSON-level mutation cannot express: truncation, stray bytes, duplicate keys, junk. */
export function mutateText(r: FuzzRand, text: string): string {
  switch (r.int(6)) {
    case 0:
      return text.slice(0, r.int(text.length));
    case 1: {
      const i = r.int(text.length);
      return text.slice(0, i) + String.fromCharCode(r.int(0x10000)) + text.slice(i + 1);
    }
    case 2:
      return text.replace(/^\{/, `{"kind":${JSON.stringify(awkwardString(r).slice(0, 100))},`);
    case 3:
      return ' '.repeat(r.pick([1, 1_000, 100_000])) + text;
    case 4:
      return r.pick(['', 'null', '[]', '"x"', '1', '{', '}', 'true', '{"__proto__":{"kind":"aggregate"}}', '\u0000']);
    default:
      return text + r.pick([',', '}', ']', ' garbage', '\u0000', '{}']);
  }
}
