import { createHash } from 'node:crypto';
import type { CompiledKindJob, KindDef } from './kind.js';
import { checkLayout } from './stat-layout.js';
import { canonicalJson } from '../job/index.js';

export { canonicalJson };

/** SHA-256 (hex) of the canonical JSON of a compiled job without its hash. */
export function compiledJobHash(job: Omit<CompiledKindJob, 'hash'> & { hash?: string }): string {
  const { hash: _ignored, ...rest } = job;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/**
 * parse → compile → hash, the one way a spec becomes a job (coordinator, agent and SDK alike). The first round's
 * layout is checked here, so a kind's layout bug fails at submission, not at the agents.
 * @throws FedmeshError INVALID_JOB naming the field (from the kind)
 */
export function compileKindJob<S, P, I>(def: KindDef<S, P, I>, raw: unknown): CompiledKindJob<S, P> {
  const spec = def.parse(raw);
  const body = def.compile(spec);
  const job = Object.freeze({ ...body, hash: compiledJobHash(body) }) as CompiledKindJob<S, P>;
  checkLayout(def.layout(job, 0));
  return job;
}
