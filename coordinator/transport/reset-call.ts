import { constants } from 'node:http2';

/** What this module looks for along grpc-js's chain of server call objects: the call's HTTP/2 stream. */
interface Http2StreamLike {
  close(code: number): void;
  readonly rstCode?: number;
  readonly destroyed: boolean;
}

/**
 * Resets a server call's HTTP/2 stream (RST_STREAM CANCEL), dropping what waits in its buffers for the peer.
 *
 * Why not the public API: a gRPC status on a streaming call goes out as trailers *after* the messages already
 * buffered, and those wait under HTTP/2 flow control for a peer that reads; a peer that never reads keeps them in the
 * coordinator's memory for as long as its connection lives. grpc-js (1.14) has no public way for a server to reset one
 * call, so this walks its call objects (`call` → `nextCall` … → `stream`) to the Node http2 stream.
 * test/integration/agent-link-stall.test.ts fails if a grpc-js upgrade moves it.
 * @returns whether a stream was found and reset
 */
export function resetCallStream(call: object): boolean {
  let at: unknown = (call as { call?: unknown }).call;
  for (let depth = 0; depth < 8 && at !== null && typeof at === 'object'; depth++) {
    const stream = (at as { stream?: unknown }).stream as Partial<Http2StreamLike> | undefined;
    if (stream && typeof stream.close === 'function' && 'rstCode' in stream) {
      if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
      return true;
    }
    at = (at as { nextCall?: unknown }).nextCall;
  }
  return false;
}
