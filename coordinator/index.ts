export { Coordinator, compileCoordinatorOptions, type CoordinatorOptions } from './coordinator.js';
export { startCoordinatorServer, type CoordinatorServerOptions, type RunningServer } from './transport/grpc-server.js';
export type { JobRecord, JobResult } from './job-record.js';
export { checkCoordinatorState, type StateCheck } from './state/check-state.js';
export { COORDINATOR_HEALTH_SERVICE } from './transport/grpc-server.js';
export { CoordinatorMetrics } from './metrics.js';
