/**
 * One access decision's inputs in domain terms, and their Cedar form. Shared by the agent's gate, the
 * coordinator's mesh-wide pre-check and `fedmesh policy check`, so all three decide on the same request.
 */
import type { JobSpec } from '../job/index.js';
import { purposeOf } from '../job/index.js';

export interface AccessPrincipal {
  name: string;
  authenticatedBy?: string;
  attributes?: { organisation?: string; roles?: readonly string[]; purposes?: readonly string[]; projects?: readonly string[] };
}

export interface AccessProduct {
  name: string;
  domain: string;
  tags: readonly string[];
  sensitivity: string;
}

export interface AccessRequest {
  principal: AccessPrincipal;
  job: Pick<JobSpec, 'kind' | 'privacy' | 'secure' | 'purpose' | 'project'>;
  product: AccessProduct;
  /** The domain's minimum cell size (mode none withholds smaller cells). */
  minCellSize: number;
  /** The agent deciding ('' at the coordinator). */
  agent: string;
}

type CedarValue = string | number | boolean | CedarValue[] | { __extn: { fn: string; arg: string } } | { [k: string]: CedarValue };

/**
 * A non-negative amount as a Cedar decimal (four decimal places), rounded UP so that a rule such as
 * `epsilon <= 1.0` never admits a job that asks for slightly more.
 */
export function cedarDecimal(v: number | undefined): { __extn: { fn: string; arg: string } } {
  const x = v === undefined || !Number.isFinite(v) || v < 0 ? 0 : Math.min(v, 1e12);
  const scaled = Math.ceil(x * 10_000 - 1e-9);
  return { __extn: { fn: 'decimal', arg: `${Math.floor(scaled / 10_000)}.${String(scaled % 10_000).padStart(4, '0')}` } };
}

export interface CedarRequest {
  principal: { type: string; id: string };
  action: { type: string; id: string };
  resource: { type: string; id: string };
  context: Record<string, CedarValue>;
  entities: { uid: { type: string; id: string }; attrs: Record<string, CedarValue>; parents: never[] }[];
}

export function toCedarRequest(r: AccessRequest): CedarRequest {
  const a = r.principal.attributes ?? {};
  const principal = { type: 'Fedmesh::Researcher', id: r.principal.name };
  const resource = { type: 'Fedmesh::DataProduct', id: r.product.name };
  return {
    principal,
    action: { type: 'Fedmesh::Action', id: r.job.kind },
    resource,
    context: {
      purpose: purposeOf(r.job),
      purposeStated: r.job.purpose !== undefined,
      project: r.job.project ?? '',
      privacyMode: r.job.privacy.mode,
      epsilon: cedarDecimal(r.job.privacy.epsilon),
      rho: cedarDecimal(r.job.privacy.rho),
      secure: r.job.secure !== undefined,
      secureProtocol: r.job.secure ?? '',
      minCellSize: r.minCellSize,
      agent: r.agent,
    },
    entities: [
      {
        uid: principal,
        attrs: {
          name: r.principal.name,
          organisation: a.organisation ?? '',
          roles: [...(a.roles ?? [])],
          purposes: [...(a.purposes ?? [])],
          projects: [...(a.projects ?? [])],
          authenticatedBy: r.principal.authenticatedBy ?? 'certificate',
        },
        parents: [],
      },
      { uid: resource, attrs: { name: r.product.name, domain: r.product.domain, tags: [...r.product.tags], sensitivity: r.product.sensitivity }, parents: [] },
    ],
  };
}
