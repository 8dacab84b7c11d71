/**
 * The importable TypeScript SDK: `import { connect, FedmeshError } from 'fedmesh/sdk'` (or `from 'fedmesh'`).
 *
 * A researcher connects with their certificate and runs jobs (`run`, `submitJob`, `watchJob`, `getJob`,
 * `listJobs`, `listAgents`, `getBudget`); an administrator connects with `connectAdmin` (or `role: 'admin'`) and
 * may also `setBudget`, `removeAgent` (a member that left the mesh for good) and read every researcher's budget. Every failure is a {@link FedmeshError} with a stable
 * `code`; gRPC never shows through.
 */
import { join } from 'node:path';
import { certBaseName, loadTlsMaterial } from '../../common/tls.js';
import { checkAddress } from './config.js';
import { CoordinatorClient } from './transport/coordinator-client.js';

export { CoordinatorClient } from './transport/coordinator-client.js';
export type { CoordinatorClientOptions } from './transport/coordinator-client.js';
export { FedmeshError, isFedmeshError } from '../../common/errors.js';
export type { FedmeshErrorCode } from '../../common/errors.js';
export type { AgentInfoView, IngestStatusView, BudgetEntryView, BudgetReportView, BudgetTarget, JobEventView, JobStateName, JobView } from './types.js';
export { resultTable, type FlatTable } from './result-table.js';
export { withConceptNames } from './concept-names.js';
export { EXIT, exitCodeFor } from './exit-codes.js';

export interface ConnectOptions {
  /** HOST:PORT of the coordinator (a port is required). */
  coordinator: string;
  /** Folder made by `fedmesh certs` (or holding ca.crt and ROLE-NAME.crt/.key); omit only with `insecure`. */
  tlsDir?: string;
  /** Certificate name. @default 'researcher' ('admin' for role admin) */
  name?: string;
  /** Which certificate to present. @default 'researcher' */
  role?: 'researcher' | 'admin';
  /** Plaintext, no authentication: loopback development only. @default false */
  insecure?: boolean;
  /** Per-call deadline of unary calls. @default 30000 */
  callTimeoutMs?: number;
}

/**
 * Opens a client (lazily: the first call connects).
 * @throws RangeError naming the option when `tlsDir` is missing without `insecure`
 * @throws FedmeshError INVALID_ARGUMENT when `coordinator` is not HOST:PORT
 */
export function connect(options: ConnectOptions): CoordinatorClient {
  if (typeof options?.coordinator !== 'string') throw new RangeError('options.coordinator must be a HOST:PORT string');
  checkAddress(options.coordinator, 'options.coordinator');
  if (!options.insecure && !options.tlsDir) throw new RangeError('options.tlsDir is required unless options.insecure is set');
  const role = options.role ?? 'researcher';
  if (role !== 'researcher' && role !== 'admin') throw new RangeError(`options.role must be 'researcher' or 'admin'`);
  const name = options.name ?? role;
  const tls = options.insecure ? undefined : loadTlsMaterial(options.tlsDir!, role, name);
  const files = tls ? { caPath: join(options.tlsDir!, 'ca.crt'), certPath: join(options.tlsDir!, `${certBaseName(role, name)}.crt`) } : undefined;
  return new CoordinatorClient({ address: options.coordinator, tls, ...(files ? { files } : {}), ...(options.callTimeoutMs !== undefined ? { callTimeoutMs: options.callTimeoutMs } : {}) });
}

/** {@link connect} with an administrator certificate: budgets of every researcher, `setBudget`. */
export function connectAdmin(options: Omit<ConnectOptions, 'role'>): CoordinatorClient {
  return connect({ ...options, role: 'admin' });
}
