/**
 * Attribute-based access policies in Cedar (`@cedar-policy/cedar-wasm`): loaded from a file, validated against
 * the fedmesh schema (or the operator's) at start with the file and line of every problem, then evaluated per
 * job. Cedar's semantics are the ones a data protection officer expects: `forbid` beats `permit`, and without a
 * matching `permit` the answer is deny. A policy that fails to evaluate also denies (fail closed).
 *
 * Policy ids: a policy's `@id("...")` annotation, else `policy<N>` (its position in the file, from 0).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { FEDMESH_CEDAR_SCHEMA } from './cedar-schema.js';
import { toCedarRequest, type AccessRequest } from './access-request.js';

import type * as CedarWasm from '@cedar-policy/cedar-wasm/nodejs';

type Cedar = typeof CedarWasm;
interface DetailedError { message: string; help?: string | null; sourceLocations?: { start: number; end: number }[] }

/** A policy file larger than this is refused unread. */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024;

/** A policy or schema that cannot be used: the message names the file and line. */
export class AccessPolicyError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly line: number | undefined,
  ) {
    super(message);
    this.name = 'AccessPolicyError';
  }
}

export interface AccessPolicy {
  readonly file: string;
  /** Policy id → the 1-based line it starts on. */
  readonly lines: Readonly<Record<string, number>>;
  /** Policy id → effect. */
  readonly effects: Readonly<Record<string, 'permit' | 'forbid'>>;
  decide(request: AccessRequest): AccessDecision;
}

export type AccessDecision = { allow: true; policyIds: string[] } | { allow: false; policyIds: string[]; reason: string };

let cedarModule: Cedar | undefined;
let preparsed = 0;
/** Cedar (WebAssembly) is loaded only by processes that use a policy. */
async function cedar(): Promise<Cedar> {
  cedarModule ??= await import('@cedar-policy/cedar-wasm/nodejs');
  return cedarModule;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function readText(file: string, what: string): string {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new AccessPolicyError(`${what} ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`, file, undefined);
  }
  if (buf.length > MAX_POLICY_FILE_BYTES) throw new AccessPolicyError(`${what} ${file}: larger than ${MAX_POLICY_FILE_BYTES} bytes`, file, undefined);
  return buf.toString('utf8');
}

function firstProblem(file: string, text: string, base: number, errors: DetailedError[], prefix: string): AccessPolicyError {
  const e = errors[0]!;
  const at = e.sourceLocations?.[0];
  const line = at ? lineAt(text, base + at.start) : undefined;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return new AccessPolicyError(`${file}${line ? `:${line}` : ''}: ${prefix}${e.message}${e.help ? ` (${e.help})` : ''}${more}`, file, line);
}

/**
 * Loads and validates a policy file (and an optional schema file) for use in decisions.
 * @throws AccessPolicyError naming the file and line (parse error, unknown attribute or action, type error, duplicate id)
 */
export async function loadAccessPolicy(file: string, schemaFile?: string): Promise<AccessPolicy> {
  const text = readText(file, 'policy');
  return compileAccessPolicy(text, file, schemaFile ? { text: readText(schemaFile, 'policy schema'), file: schemaFile } : undefined);
}

/** {@link loadAccessPolicy} on text already read. @throws AccessPolicyError */
export async function compileAccessPolicy(text: string, file: string, schemaSource?: { text: string; file: string }): Promise<AccessPolicy> {
  const c = await cedar();
  const schema = schemaSource?.text ?? FEDMESH_CEDAR_SCHEMA;
  const schemaCheck = c.checkParseSchema(schema);
  if (schemaCheck.type === 'failure') throw firstProblem(schemaSource?.file ?? '(built-in schema)', schema, 0, schemaCheck.errors, 'schema: ');
  const parsed = c.checkParsePolicySet({ staticPolicies: text });
  if (parsed.type === 'failure') throw firstProblem(file, text, 0, parsed.errors, '');
  const parts = c.policySetTextToParts(text);
  if (parts.type === 'failure') throw firstProblem(file, text, 0, parts.errors, '');
  if (parts.policy_templates.length > 0) throw new AccessPolicyError(`${file}: templates are not supported; write static policies`, file, undefined);
  if (parts.policies.length === 0) throw new AccessPolicyError(`${file}: holds no policy (without a permit every job would be refused; remove --policy to keep the default)`, file, undefined);
  const policies: Record<string, string> = {};
  const offsets: Record<string, number> = {};
  const lines: Record<string, number> = {};
  const effects: Record<string, 'permit' | 'forbid'> = {};
  let cursor = 0;
  parts.policies.forEach((p, i) => {
    const at = text.indexOf(p, cursor);
    const offset = at >= 0 ? at : cursor;
    cursor = at >= 0 ? at + p.length : cursor;
    const annotated = /@id\s*\(\s*"([^"]{1,128})"\s*\)/.exec(p)?.[1];
    const id = annotated ?? `policy${i}`;
    if (policies[id] !== undefined) throw new AccessPolicyError(`${file}:${lineAt(text, offset)}: policy id ${JSON.stringify(id)} is used twice (first at line ${lines[id]})`, file, lineAt(text, offset));
    policies[id] = p;
    offsets[id] = offset;
    lines[id] = lineAt(text, offset);
    const json = c.policyToJson(p);
    effects[id] = json.type === 'success' ? json.json.effect : /^\s*(@[^\n]*\n\s*)*forbid/.test(p) ? 'forbid' : 'permit';
  });
  const validated = c.validate({ schema, policies: { staticPolicies: policies }, validationSettings: { mode: 'strict' } });
  if (validated.type === 'failure') throw firstProblem(file, text, 0, validated.errors, 'validation: ');
  if (validated.validationErrors.length > 0) {
    const v = validated.validationErrors[0]!;
    throw firstProblem(file, text, offsets[v.policyId] ?? 0, validated.validationErrors.map((x) => x.error), `policy ${v.policyId}: `);
  }
  // Parsed once into Cedar's registry: a decision then costs no policy or schema parsing (≈ 10× faster).
  const setId = `fedmesh-${++preparsed}`;
  const schemaOk = c.preparseSchema(setId, schema);
  const setOk = c.preparsePolicySet(setId, { staticPolicies: policies });
  if (schemaOk.type === 'failure' || setOk.type === 'failure') throw new AccessPolicyError(`${file}: Cedar could not prepare the policy set`, file, undefined);
  const frozenLines = Object.freeze({ ...lines });
  // Decisions travel to researchers: they name the file, never the domain's folder layout.
  const label = basename(file);
  return Object.freeze({
    file,
    lines: frozenLines,
    effects: Object.freeze({ ...effects }),
    decide(request: AccessRequest): AccessDecision {
      const r = toCedarRequest(request);
      const answer = c.statefulIsAuthorized({ ...r, preparsedPolicySetId: setId, preparsedSchemaName: setId, validateRequest: true });
      if (answer.type === 'failure') {
        return { allow: false, policyIds: [], reason: `the request does not fit the policy schema: ${answer.errors[0]?.message.slice(0, 300) ?? 'unknown'}` };
      }
      const { decision, diagnostics } = answer.response;
      const where = (ids: string[]): string => ids.map((id) => `${id} (${label}:${frozenLines[id] ?? '?'})`).join(', ');
      if (diagnostics.errors.length > 0) {
        const ids = diagnostics.errors.map((e) => e.policyId);
        return { allow: false, policyIds: ids, reason: `policy ${where(ids)} failed to evaluate, so the request is refused (fail closed)` };
      }
      if (decision === 'allow') return { allow: true, policyIds: [...diagnostics.reason] };
      if (diagnostics.reason.length > 0) return { allow: false, policyIds: [...diagnostics.reason], reason: `forbidden by policy ${where(diagnostics.reason)}` };
      return { allow: false, policyIds: [], reason: `no permit policy in ${label} matches (default deny)` };
    },
  });
}
