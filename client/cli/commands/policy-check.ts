/**
 * `fedmesh policy check --agent-policy FILE JOB.json --as RESEARCHER [--attr k=v …] [--purpose P]`: the decision a
 * domain's Cedar policy would make on a job, computed locally (no coordinator, no data), with the policies that
 * determined it. Exit 0 on allow, 4 on deny, 2 for a bad policy, job or flag.
 */
import { readFileSync } from 'node:fs';
import { quote } from '../../../common/errors.js';
import { parseJobSpec, parsePurpose, manifestProductOf } from '../../../common/job/index.js';
import { loadPolicyFlag } from './agent-governance.js';
import { EXIT } from '../../sdk/exit-codes.js';

export interface PolicyCheckFlags {
  agentPolicy: string;
  policySchema?: string;
  as: string;
  attr?: string[];
  purpose?: string;
  project?: string;
  domain?: string;
  tag?: string[];
  sensitivity?: string;
  agent?: string;
  minCellSize?: string;
  json?: boolean;
}

const LIST_ATTRS: Record<string, 'roles' | 'purposes' | 'projects'> = { role: 'roles', roles: 'roles', purpose: 'purposes', purposes: 'purposes', project: 'projects', projects: 'projects' };

/** `--attr k=v`: organisation=X (once), role=R / purpose=P / project=J (repeatable), authenticatedBy=oidc. */
function parseAttrs(list: readonly string[]): { authenticatedBy: string; attributes: { organisation?: string; roles: string[]; purposes: string[]; projects: string[] } } {
  const attributes: { organisation?: string; roles: string[]; purposes: string[]; projects: string[] } = { roles: ['researcher'], purposes: [], projects: [] };
  let authenticatedBy = 'certificate';
  let rolesGiven = false;
  for (const a of list) {
    const m = /^([A-Za-z]+)=(.{1,128})$/.exec(a);
    if (!m) throw new RangeError(`--attr must be KEY=VALUE, got ${quote(a)}`);
    const [, k, v] = m as unknown as [string, string, string];
    if (k === 'organisation' || k === 'org') attributes.organisation = v;
    else if (k === 'authenticatedBy') authenticatedBy = v;
    else if (LIST_ATTRS[k]) {
      const key = LIST_ATTRS[k];
      if (key === 'roles' && !rolesGiven) {
        attributes.roles = [];
        rolesGiven = true;
      }
      for (const x of v.split(',')) if (x && !attributes[key].includes(x)) attributes[key].push(x);
    } else throw new RangeError(`--attr: unknown attribute ${quote(k)} (known: organisation, role, purpose, project, authenticatedBy)`);
  }
  return { authenticatedBy, attributes };
}

export async function runPolicyCheck(jobFile: string, flags: PolicyCheckFlags): Promise<number> {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(flags.as)) throw new RangeError(`--as must be a researcher name, got ${quote(flags.as)}`);
  const policy = await loadPolicyFlag({ policy: flags.agentPolicy, ...(flags.policySchema ? { policySchema: flags.policySchema } : {}) });
  let text: string;
  try {
    text = readFileSync(jobFile, 'utf8');
  } catch (e) {
    throw new RangeError(`cannot read job file ${quote(jobFile, 200)}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { cause: e });
  }
  const job = parseJobSpec(text);
  if (flags.purpose !== undefined) job.purpose = parsePurpose(flags.purpose);
  if (flags.project !== undefined) job.project = flags.project;
  const minCellSize = flags.minCellSize === undefined ? 10 : Number(flags.minCellSize);
  if (!Number.isInteger(minCellSize) || minCellSize < 1) throw new RangeError(`--min-cell-size must be a positive integer, got ${quote(flags.minCellSize)}`);
  const { authenticatedBy, attributes } = parseAttrs(flags.attr ?? []);
  const product = manifestProductOf(job);
  const d = policy!.decide({
    principal: { name: flags.as, authenticatedBy, attributes },
    job,
    product: { name: product, domain: flags.domain ?? '', tags: flags.tag ?? [], sensitivity: flags.sensitivity ?? 'sensitive' },
    minCellSize,
    agent: flags.agent ?? '',
  });
  if (flags.json) process.stdout.write(`${JSON.stringify({ decision: d.allow ? 'allow' : 'deny', policyIds: d.policyIds, ...(d.allow ? {} : { reason: d.reason }) })}\n`);
  else if (d.allow) process.stdout.write(`allow: ${flags.as} may run this ${job.kind} job on ${product} (determining policies: ${d.policyIds.map((id) => `${id} line ${policy!.lines[id] ?? '?'}`).join(', ')})\n`);
  else process.stdout.write(`deny: ${d.reason}\n`);
  return d.allow ? EXIT.OK : EXIT.REFUSED;
}
