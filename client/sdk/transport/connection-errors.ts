import { FedmeshError } from '../../../common/errors.js';

export interface ConnectionContext {
  /** HOST:PORT dialled. */
  address: string;
  /** The CA file the coordinator's certificate is checked against, when TLS is on. */
  caPath?: string;
  /** This client's certificate file, when TLS is on. */
  certPath?: string;
}

/** OpenSSL / Node messages of a server certificate that failed verification. */
const VERIFY = /self[- ]signed certificate|unable to (?:verify|get (?:local )?issuer)|certificate (?:has expired|is not yet valid|signature failure|revoked)|Hostname\/IP does not match|ERR_TLS_CERT|CERT_|wrong version number/i;
const NOT_LISTENING = /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|Name resolution failed|ENOTFOUND|EAI_AGAIN/;

const clean = (m: string): string => m.replace(/\s*Resolution note:\s*$/, '').replace(/^No connection established\. Last error: (?:Error: )?/, '');

/**
 * Turns grpc-js's UNAVAILABLE text (`No connection established. Last error: … Resolution note:`) into what a
 * researcher can act on: the coordinator cannot be reached at this address, or the TLS handshake failed and which
 * certificate failed (the coordinator's, checked against our CA file, or ours, refused by the coordinator).
 * Other errors pass through unchanged.
 */
export function describeConnectionError(e: FedmeshError, ctx: ConnectionContext): FedmeshError {
  if (e.code !== 'COORDINATOR_UNAVAILABLE') return e;
  const raw = e.message.replace(/^coordinator unreachable or TLS handshake refused: /, '');
  const why = clean(raw);
  let message: string;
  if (ctx.caPath && VERIFY.test(raw)) {
    message = `TLS: the coordinator's certificate at ${ctx.address} failed verification against the CA ${ctx.caPath}: ${why} (is --tls-dir this mesh's certificate folder?)`;
  } else if (NOT_LISTENING.test(raw)) {
    message = `cannot reach coordinator at ${ctx.address}: ${why} (is it running and listening there?)`;
  } else if (ctx.certPath && /Failed to connect|Connection dropped|socket hang up|handshake/i.test(raw)) {
    message = `TLS: the coordinator at ${ctx.address} closed the connection during the handshake: it did not accept this client's certificate ${ctx.certPath} (not signed by the mesh's CA?), or it does not speak TLS (${why})`;
  } else if (!ctx.caPath && /Connection dropped|Failed to connect|socket hang up|protocol/i.test(raw)) {
    message = `the coordinator at ${ctx.address} refused a plaintext connection (--insecure): it probably expects TLS (${why})`;
  } else if (/Failed to connect|Connection dropped|socket hang up/i.test(raw)) {
    // Without the file names (a client built from loaded material), grpc-js cannot tell us which side gave up.
    message = `cannot reach coordinator at ${ctx.address}: ${why} (not listening there, or the TLS handshake was refused)`;
  } else {
    message = `cannot reach coordinator at ${ctx.address}: ${why}`;
  }
  return new FedmeshError('COORDINATOR_UNAVAILABLE', message, { cause: e.cause ?? e, details: e.details });
}
