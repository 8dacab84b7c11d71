import type * as grpc from '@grpc/grpc-js';

/** Lets calls in flight finish, but forces the server down after `graceMs` so a stuck stream cannot hold it. */
export function shutdownServer(server: grpc.Server, graceMs = 2000): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
