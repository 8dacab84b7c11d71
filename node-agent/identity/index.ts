export { CoordinatorKeyPin, PINNED_COORDINATOR_KEY_FILE } from './coordinator-key.js';
export { guardLinkTasks, inProcessTaskIdentity, verifyTaskIdentity, type InProcessIdentity } from './task-identity.js';
