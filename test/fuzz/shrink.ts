import { depthOf, type Json } from './mutate.js';

/**
 * Greedy structural shrinking: drop object keys and array items, halve long arrays and strings, and unwrap deep
 * nesting while `stillFails` holds. Bounded by `maxTries` calls, so a failing case costs at most that many requests.
 */
export async function shrinkSpec(spec: Json, stillFails: (s: Json) => Promise<boolean>, maxTries = 120): Promise<Json> {
  // The candidate generator recurses once per level: leave very deep values as they are (the report states their shape).
  if (depthOf(spec) > 200) return spec;
  let best = spec;
  let tries = 0;
  let improved = true;
  while (improved && tries < maxTries) {
    improved = false;
    for (const cand of candidates(best)) {
      if (tries++ >= maxTries) break;
      if (await stillFails(cand)) {
        best = cand;
        improved = true;
        break;
      }
    }
  }
  return best;
}

function* candidates(v: Json): Generator<Json> {
  if (Array.isArray(v)) {
    if (v.length > 2) yield v.slice(0, Math.ceil(v.length / 2));
    for (let i = 0; i < v.length && i < 20; i++) yield [...v.slice(0, i), ...v.slice(i + 1)];
    if (v.length === 1) yield v[0]!;
    for (let i = 0; i < v.length && i < 20; i++) for (const c of candidates(v[i]!)) yield v.map((x, j) => (j === i ? c : x));
  } else if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    for (const k of keys) {
      const { [k]: _drop, ...rest } = v;
      yield rest;
    }
    for (const k of keys) for (const c of candidates(v[k]!)) yield { ...v, [k]: c };
  } else if (typeof v === 'string' && v.length > 8) {
    yield v.slice(0, Math.ceil(v.length / 2));
  }
}

