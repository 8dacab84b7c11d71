export * from './rng.js';
export * as aggregate from './aggregate/index.js';
export * as dp from './dp/index.js';
export * as secagg from './secagg/index.js';
export * as stats from './stats/index.js';
export * as survival from './survival/index.js';
export * as glm from './glm/index.js';
