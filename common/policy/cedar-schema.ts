/**
 * The Cedar schema every fedmesh access policy is validated against (unless an operator gives their own with
 * `--policy-schema`). Principal = the researcher with attributes; action = the job kind; resource = the data
 * product with its domain and tags; context = purpose of use and the privacy parameters of the job. Optional
 * values are given as empty strings or 0 so policies need no `has` guards.
 */
export const FEDMESH_CEDAR_SCHEMA = `namespace Fedmesh {
  entity Researcher = {
    name: String,
    organisation: String,
    roles: Set<String>,
    purposes: Set<String>,
    projects: Set<String>,
    authenticatedBy: String,
  };
  entity DataProduct = {
    name: String,
    domain: String,
    tags: Set<String>,
    sensitivity: String,
  };
  type JobContext = {
    purpose: String,
    purposeStated: Bool,
    project: String,
    privacyMode: String,
    epsilon: decimal,
    rho: decimal,
    secure: Bool,
    secureProtocol: String,
    minCellSize: Long,
    agent: String,
  };
  action "aggregate", "cohort", "characterize", "survival", "contingency", "glm", "survival-cox" appliesTo {
    principal: Researcher,
    resource: DataProduct,
    context: JobContext,
  };
}
`;

/** Job kinds that are Cedar actions (`Fedmesh::Action::"<kind>"`), the registry kinds (glm, survival-cox) included. */
export const CEDAR_ACTIONS: readonly string[] = ['aggregate', 'cohort', 'characterize', 'survival', 'contingency', 'glm', 'survival-cox'];
