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

// The erased forms the runners hold (each kind's own types stay inside its folder).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyKindDef = KindDef<any, any, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyAgentKindDef = AgentKindDef<any, any, any>;
