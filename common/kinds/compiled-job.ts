import { createHash } from 'node:crypto';
import type { CompiledKindJob, KindDef } from './kind.js';
import { checkLayout } from './stat-layout.js';
import { FedmeshError } from '../errors.js';
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
  const layout = def.layout(job, 0);
  checkLayout(layout);
  // A block selected at the coordinator needs the exact sum there: central-dp only (any other mode would release the
  // sum itself, or noise it, where the kind's release reads a selection: red team 44).
  const selected = layout.blocks.find((b) => b.selectedAtCoordinator === true);
  if (selected && job.privacy.mode !== 'central-dp') {
    throw new FedmeshError('INVALID_JOB', `privacy.mode: block ${selected.name} is released by a selection at the coordinator, which needs central-dp, not ${job.privacy.mode}`, { field: 'privacy.mode' });
  }
  return job;
}
