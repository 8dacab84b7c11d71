export { Coordinator, compileCoordinatorOptions, type CoordinatorOptions } from './coordinator.js';
export { startCoordinatorServer, type CoordinatorServerOptions, type RunningServer } from './transport/grpc-server.js';
export type { JobRecord, JobResult } from './job-record.js';
export { checkCoordinatorState, type StateCheck } from './state/check-state.js';
