/** The importable TypeScript SDK: `import { connect } from 'fedmesh/client/sdk'`. */
import { loadTlsMaterial } from '../common/tls.js';
import { CoordinatorClient } from './transport/coordinator-client.js';

export { CoordinatorClient } from './transport/coordinator-client.js';
export type { AgentInfoView, JobEventView, JobView } from './types.js';

export interface ConnectOptions {
  /** HOST:PORT of the coordinator. */
  coordinator: string;
  /** Folder made by `fedmesh certs`; omit only with `insecure`. */
  tlsDir?: string;
  /** Researcher certificate name. @default 'researcher' */
  name?: string;
  insecure?: boolean;
}

export function connect(options: ConnectOptions): CoordinatorClient {
  if (!options.insecure && !options.tlsDir) throw new RangeError('options.tlsDir is required unless options.insecure is set');
  const tls = options.insecure ? undefined : loadTlsMaterial(options.tlsDir!, 'researcher', options.name ?? 'researcher');
  return new CoordinatorClient({ address: options.coordinator, tls });
}
