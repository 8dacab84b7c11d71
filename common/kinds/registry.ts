import type { AgentKindDef, KindDef } from './kind.js';

/** Kind names: lower-case words, as they appear in `{"kind": …}` and on the CLI. */
const KIND_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** A read-only map from kind name to its definition; built once from the list in `jobs/kinds.ts`. */
export interface KindRegistry<D extends { readonly kind: string }> {
  get(kind: string): D | undefined;
  has(kind: string): boolean;
  kinds(): readonly string[];
}

/** @throws RangeError for a malformed or duplicate kind name */
export function createKindRegistry<D extends { readonly kind: string }>(defs: readonly D[]): KindRegistry<D> {
  const byName = new Map<string, D>();
  for (const d of defs) {
    if (!KIND_NAME.test(d.kind)) throw new RangeError(`kind name ${JSON.stringify(d.kind)} must match ${KIND_NAME}`);
    if (byName.has(d.kind)) throw new RangeError(`kind ${d.kind} is registered twice`);
    byName.set(d.kind, d);
  }
  const names = Object.freeze([...byName.keys()].sort());
  return Object.freeze({ get: (k: string) => byName.get(k), has: (k: string) => byName.has(k), kinds: () => names });
}

/**
 * The registry kind names a parsed spec may run as, most specific first: a model variant of a kind
 * (`{"kind": "survival", "model": "cox"}` → `survival-cox`) is a kind of its own, so a built-in kind can gain a
 * registry variant without the registry taking over the built-in one.
 */
export function registryKindCandidates(spec: unknown): string[] {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) return [];
  const { kind, model } = spec as { kind?: unknown; model?: unknown };
  if (typeof kind !== 'string') return [];
  return typeof model === 'string' && KIND_NAME.test(`${kind}-${model}`) ? [`${kind}-${model}`, kind] : [kind];
}

// The erased forms the runners hold (each kind's own types stay inside its folder).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyKindDef = KindDef<any, any, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyAgentKindDef = AgentKindDef<any, any, any>;
