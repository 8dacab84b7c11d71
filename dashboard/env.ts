/** The dashboard app's Hono environment: the caller, set by the authentication middleware on every request. */
import type { Principal } from '../coordinator/principal.js';

export type DashboardEnv = { Variables: { principal: Principal } };
