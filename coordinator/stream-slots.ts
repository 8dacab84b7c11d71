/**
 * A cap on concurrent streams per caller: the dashboard's server-sent events (each open job page holds one HTTP
 * connection) and the gRPC GetJobResult and WatchJob streams. Each holds one
 * watcher on the coordinator for as long as the job runs; without a cap one researcher (or a script with their
 * certificate) could hold thousands and starve everyone else. Beyond the cap a new stream is refused with
 * RESOURCE_EXHAUSTED (HTTP 429); a slot is released when its stream ends, whether the job finished or the browser
 * went away.
 */
import { FedmeshError } from '../common/errors.js';
import type { Principal } from './principal.js';

/** @default 4 concurrent streams per caller */
export const DEFAULT_MAX_STREAMS_PER_CALLER = 4;

export class StreamSlots {
  private readonly open = new Map<string, number>();

  /**
   * @param refusal what the RESOURCE_EXHAUSTED refusal tells the caller to do (the dashboard's job pages by default)
   * @throws RangeError naming the option when `maxPerCaller` is not a positive integer
   */
  constructor(
    readonly maxPerCaller = DEFAULT_MAX_STREAMS_PER_CALLER,
    private readonly refusal = 'close another job page (or wait for its job to finish) and reload',
  ) {
    if (!Number.isInteger(maxPerCaller) || maxPerCaller < 1 || maxPerCaller > 1000) throw new RangeError(`options.maxStreamsPerCaller must be an integer between 1 and 1000, got ${String(maxPerCaller)}`);
  }

  /** A caller is who authenticated, by which means: a certificate user and a token user of the same name differ. */
  private static key(p: Principal): string {
    return `${p.authenticatedBy ?? 'certificate'}\0${p.name}`;
  }

  /**
   * Takes a slot for `p`; the returned function gives it back (calling it twice is harmless).
   * @throws FedmeshError RESOURCE_EXHAUSTED when `p` already holds `maxPerCaller` streams
   */
  acquire(p: Principal): () => void {
    const key = StreamSlots.key(p);
    const n = this.open.get(key) ?? 0;
    if (n >= this.maxPerCaller) throw new FedmeshError('RESOURCE_EXHAUSTED', `at most ${this.maxPerCaller} live job streams per researcher: ${this.refusal}`);
    this.open.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left <= 0) this.open.delete(key);
      else this.open.set(key, left);
    };
  }

  /** Streams `p` holds now. */
  held(p: Principal): number {
    return this.open.get(StreamSlots.key(p)) ?? 0;
  }
}
