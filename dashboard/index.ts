/** The web dashboard (issue 12): Hono pages over the coordinator's service API, served over HTTPS. */
export { createDashboardApp, type DashboardAppOptions } from './app.js';
export { coordinatorBackend, type DashboardBackend, type AuditView, type AuditQuery } from './backend.js';
export { startDashboardServer, type DashboardServerOptions, type RunningDashboard } from './server.js';
export { authenticateRequest, type DashboardAuthOptions, type RequestIdentity } from './auth.js';
export { CsrfTokens, CSRF_FIELD, CONTENT_SECURITY_POLICY } from './security.js';
