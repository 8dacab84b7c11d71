export { CoordinatorKeyPin, PINNED_COORDINATOR_KEY_FILE } from './coordinator-key.js';
export { guardLinkTasks, verifyTaskIdentity } from './task-identity.js';
