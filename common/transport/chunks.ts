/**
 * Large per-round payloads on the agent link, in pieces (agent.proto, `Chunk`): the sender splits a bytes field of
 * more than CHUNK_BYTES into in-order pieces, then sends the message with the field empty and its bit set in
 * `chunked`; the receiver buffers the pieces per (task, field), bounded, and puts the field back when the message
 * arrives. No single gRPC message then holds the link for a whole model or ciphertext batch (heartbeats and other
 * tasks go between the pieces, the sender waits for the stream to drain between them), and a hostile peer cannot make
 * the receiver buffer more than its limits before anything is checked.
 */
import { FedmeshError } from '../errors.js';
import { MAX_MESSAGE_BYTES } from './proto.js';

/** Largest piece, and the size above which a field is sent in pieces. */
export const CHUNK_BYTES = 1024 * 1024;

/** A piece as it travels (proto-loader's shape: int64 as string on receipt, number or string when sent). */
export interface WireChunk {
  taskId: string;
  field: number;
  offset: string | number;
  data: Buffer;
  total: string | number;
}

/** Bits of `chunked`: field 1 (Task.payload, TaskResult.arrow_ipc) and field 2 (TaskResult.payload). */
export const chunkBit = (field: 1 | 2): number => (field === 1 ? 1 : 2);

/** The pieces of one field, in order, or none when it fits in one message. */
export function splitIntoChunks(taskId: string, field: 1 | 2, bytes: Uint8Array, pieceBytes = CHUNK_BYTES): WireChunk[] {
  if (bytes.length <= pieceBytes) return [];
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: WireChunk[] = [];
  for (let off = 0; off < buf.length; off += pieceBytes) out.push({ taskId, field, offset: off, data: buf.subarray(off, off + pieceBytes), total: buf.length });
  return out;
}

export interface ChunkLimits {
  /** Largest field. @default MAX_MESSAGE_BYTES */
  readonly maxFieldBytes: number;
  /** Bytes buffered for all fields not yet claimed, on one stream. @default 2 × MAX_MESSAGE_BYTES */
  readonly maxPendingBytes: number;
  /** Fields being received at once on one stream. @default 64 */
  readonly maxPendingFields: number;
  /** Largest piece. @default CHUNK_BYTES */
  readonly maxPieceBytes: number;
}

const DEFAULT_LIMITS: ChunkLimits = { maxFieldBytes: MAX_MESSAGE_BYTES, maxPendingBytes: 2 * MAX_MESSAGE_BYTES, maxPendingFields: 64, maxPieceBytes: CHUNK_BYTES };

interface Pending {
  readonly total: number;
  received: number;
  readonly pieces: Buffer[];
}

function wireInt(v: unknown, what: string): number {
  const n = typeof v === 'string' && /^\d{1,16}$/.test(v) ? Number(v) : typeof v === 'number' ? v : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new FedmeshError('INVALID_ARGUMENT', `chunk.${what}: not a non-negative integer`);
  return n;
}

/**
 * One stream's reassembly of pieces. Pieces are kept as received (never a buffer of the declared total, which a
 * hostile peer could state without sending), so memory is what arrived, within `maxPendingBytes`.
 */
export class ChunkAssembler {
  private readonly pending = new Map<string, Pending>();
  private pendingBytes = 0;
  private readonly limits: ChunkLimits;

  constructor(limits: Partial<ChunkLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** @throws FedmeshError INVALID_ARGUMENT (malformed, out of order, past its total), RESOURCE_EXHAUSTED (limits) */
  add(c: WireChunk): void {
    if (typeof c?.taskId !== 'string' || c.taskId.length === 0 || c.taskId.length > 128) throw new FedmeshError('INVALID_ARGUMENT', 'chunk.task_id: missing or longer than 128 characters');
    if (c.field !== 1 && c.field !== 2) throw new FedmeshError('INVALID_ARGUMENT', `chunk.field: must be 1 or 2, got ${String(c.field).slice(0, 20)}`);
    const offset = wireInt(c.offset, 'offset');
    const total = wireInt(c.total, 'total');
    const data = Buffer.isBuffer(c.data) ? c.data : Buffer.alloc(0);
    if (data.length === 0) throw new FedmeshError('INVALID_ARGUMENT', 'chunk.data: empty piece');
    if (data.length > this.limits.maxPieceBytes) throw new FedmeshError('RESOURCE_EXHAUSTED', `chunk.data: a piece of ${data.length} bytes is over the ${this.limits.maxPieceBytes}-byte limit`);
    if (total > this.limits.maxFieldBytes) throw new FedmeshError('RESOURCE_EXHAUSTED', `chunk.total: ${total} bytes is over the ${this.limits.maxFieldBytes}-byte limit of one field`);
    const key = `${c.taskId}\u0000${c.field}`;
    let p = this.pending.get(key);
    if (!p) {
      if (offset !== 0) throw new FedmeshError('INVALID_ARGUMENT', `chunk.offset: the first piece of task ${c.taskId.slice(0, 64)} field ${c.field} starts at ${offset}, not 0`);
      if (this.pending.size >= this.limits.maxPendingFields) throw new FedmeshError('RESOURCE_EXHAUSTED', `chunk: more than ${this.limits.maxPendingFields} fields in pieces at once on this link`);
      p = { total, received: 0, pieces: [] };
      this.pending.set(key, p);
    } else {
      if (total !== p.total) throw new FedmeshError('INVALID_ARGUMENT', `chunk.total: changed from ${p.total} to ${total} within task ${c.taskId.slice(0, 64)} field ${c.field}`);
      if (offset !== p.received) throw new FedmeshError('INVALID_ARGUMENT', `chunk.offset: ${offset} where ${p.received} was expected (pieces come in order)`);
    }
    if (p.received + data.length > p.total) throw new FedmeshError('INVALID_ARGUMENT', `chunk: pieces of task ${c.taskId.slice(0, 64)} field ${c.field} run past their total of ${p.total} bytes`);
    // Every piece but the last is a whole piece, as the sender splits: a hostile peer's 1-byte pieces would cost the
    // heap far more than the bytes counted (red team 31, F1: 2.3 million of them ran a 256 MiB coordinator out).
    const expected = Math.min(this.limits.maxPieceBytes, p.total - p.received);
    if (data.length !== expected) {
      if (p.received === 0) this.pending.delete(key);
      throw new FedmeshError('INVALID_ARGUMENT', `chunk.data: a piece of ${data.length} bytes where ${expected} were expected (pieces are ${this.limits.maxPieceBytes} bytes but the last)`);
    }
    if (this.pendingBytes + data.length > this.limits.maxPendingBytes) throw new FedmeshError('RESOURCE_EXHAUSTED', `chunk: more than ${this.limits.maxPendingBytes} bytes in pieces waiting on this link`);
    // Copied: the piece's buffer may be a view into a larger receive buffer.
    p.pieces.push(Buffer.from(data));
    p.received += data.length;
    this.pendingBytes += data.length;
  }

  /**
   * The whole field, which leaves the buffer.
   * @throws FedmeshError INVALID_ARGUMENT when the message flags a field whose pieces did not all arrive
   */
  take(taskId: string, field: 1 | 2): Buffer {
    const key = `${taskId}\u0000${field}`;
    const p = this.pending.get(key);
    if (!p || p.received !== p.total) {
      throw new FedmeshError('INVALID_ARGUMENT', `chunked: field ${field} of task ${taskId.slice(0, 64)} is flagged as sent in pieces, but ${p ? `${p.received} of ${p.total} bytes` : 'none'} arrived`);
    }
    this.pending.delete(key);
    this.pendingBytes -= p.received;
    return p.pieces.length === 1 ? p.pieces[0]! : Buffer.concat(p.pieces, p.total);
  }

  /** Bytes buffered now (for tests and limits). */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** Drops everything (the stream ended). */
  clear(): void {
    this.pending.clear();
    this.pendingBytes = 0;
  }
}

/** A stream the sender writes to: `write` returns false when its buffer is full, and 'drain' follows. */
export interface DrainableStream {
  /** `done` runs when the stream has passed the message on (for a gRPC call: to the transport, flow control permitting). */
  write(msg: unknown, done?: (error?: Error | null) => void): boolean;
  once(event: 'drain' | 'close' | 'error', fn: () => void): unknown;
  off(event: 'drain' | 'close' | 'error', fn: () => void): unknown;
}

/** What a writer of {@link writeInOrder} learns and decides between messages. */
export interface WriteHooks {
  /** Checked before each message: true stops the batch (resolves false). */
  stopped?(): boolean;
  /**
   * Called when the stream has passed a message on (its write callback). A gRPC call's write returns true long
   * before that: the message then waits in the call's and HTTP/2's buffers, under flow control, for the peer to read.
   */
  passedOn?(message: unknown): void;
}

/**
 * Writes `messages` in order, waiting for the stream to drain whenever it says its buffer is full, so a large
 * field's pieces are not all buffered at once and other writers' messages (heartbeats) go between them.
 * Resolves false when the stream closed or failed before all were written.
 */
export async function writeInOrder(stream: DrainableStream, messages: readonly unknown[], hooks?: WriteHooks): Promise<boolean> {
  for (const m of messages) {
    if (hooks?.stopped?.()) return false;
    let ok: boolean;
    try {
      const passedOn = hooks?.passedOn;
      ok = passedOn ? stream.write(m, () => passedOn(m)) : stream.write(m);
    } catch {
      return false;
    }
    if (!ok) {
      const drained = await new Promise<boolean>((resolve) => {
        const done = (v: boolean) => (): void => {
          stream.off('drain', onDrain);
          stream.off('close', onEnd);
          stream.off('error', onEnd);
          resolve(v);
        };
        const onDrain = done(true);
        const onEnd = done(false);
        stream.once('drain', onDrain);
        stream.once('close', onEnd);
        stream.once('error', onEnd);
      });
      if (!drained) return false;
    }
  }
  return true;
}

/**
 * Bytes a message holds, for the writer's bound: its byte arrays and strings (UTF-8) at any depth; a link message's
 * size is its payload pieces and its spec, the rest is a few fields.
 */
export function messageBytes(message: unknown, depth = 0): number {
  if (message instanceof Uint8Array) return message.byteLength;
  if (typeof message === 'string') return Buffer.byteLength(message);
  if (message === null || typeof message !== 'object') return 8;
  // Link messages are a few levels deep; anything deeper is bounded by the proto's own size limit when written.
  if (depth > 16) return 0;
  let n = 16;
  for (const v of Array.isArray(message) ? message : Object.values(message as Record<string, unknown>)) n += messageBytes(v, depth + 1);
  return n;
}

/** When a peer that does not read its stream is given up, and how much may wait for it (see {@link serialWriter}). */
export interface StallPolicy {
  /** Bytes waiting (sent here, not yet passed on by the stream) at most: a batch beyond it is refused, not queued. */
  readonly maxQueuedBytes: number;
  /** The longest the stream may pass no message on while messages wait, plus the time its oldest one needs at `minBytesPerSecond`. */
  readonly stallMs: number;
  /** The slowest link rate an honest peer is granted for the message at the head. @default 65536 */
  readonly minBytesPerSecond?: number;
  /** Called once, with the reason, when the stall clock runs out; the writer then drops what waits and sends nothing more. */
  onStall(reason: string): void;
}

/** Batches this small (a CancelTask) are queued even past `maxQueuedBytes`: they free work at the peer. */
const CONTROL_BATCH_BYTES = 256;

/**
 * One writer per stream: every batch of messages goes out after the batches sent before it, whatever waits for a
 * drain in between. Without it a CancelTask written directly overtook the task still going out in pieces, and the
 * agent ran a cancelled task (red team 31 suspicion).
 *
 * With a {@link StallPolicy}, what waits is bounded. A message waits from the moment it is sent here until the stream
 * has passed it on (its write callback: gRPC's write returns true at once and the bytes then wait in HTTP/2's buffers
 * for the peer's flow control). A peer that keeps its stream open but stops reading it (its heartbeats still arrive,
 * so it looks alive) would otherwise make the sender keep every later task, job after job, until the process runs out
 * of memory:
 * - past `maxQueuedBytes` waiting, a new batch is refused (the sender returns false and the caller fails that task),
 *   whether or not the peer is reading: a slow but honest peer under a burst of jobs loses tasks, not its link
 *   (red team 37, F1);
 * - when the stream passes nothing on for `stallMs` plus the time the oldest waiting message needs at
 *   `minBytesPerSecond` (a 1 MiB piece on a slow link is progress too: red team 37, F2), the peer is given up
 *   (onStall, which must close the stream, freeing what it holds) and what waits here is dropped.
 * @returns the sender: true when the batch was queued
 */
export function serialWriter(stream: DrainableStream, stall?: StallPolicy): (messages: readonly unknown[]) => boolean {
  const batches: { messages: readonly unknown[]; sizes: number[] }[] = [];
  // Sizes of the messages sent here and not yet passed on, oldest first (the stream's callbacks come in order).
  const waiting: number[] = [];
  let oldest = 0;
  let pumping = false;
  let queued = 0;
  let stalled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const rate = stall?.minBytesPerSecond ?? 65536;
  const giveUp = (reason: string): void => {
    if (stalled) return;
    stalled = true;
    clearTimeout(timer);
    batches.length = 0;
    waiting.length = 0;
    queued = 0;
    // Never in the caller's turn: the caller may be registering the stream still.
    queueMicrotask(() => stall!.onStall(reason));
  };
  // The stall clock runs while messages wait and restarts whenever the stream passes one on.
  const rearm = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (!stall || stalled || queued <= 0) return;
    const ms = stall.stallMs + Math.ceil(((waiting[oldest] ?? 0) * 1000) / rate);
    timer = setTimeout(() => giveUp(`the peer took no message for ${ms} ms while ${queued} bytes waited`), ms);
    timer.unref?.();
  };
  const passedOn = (): void => {
    if (stalled) return;
    queued -= waiting[oldest] ?? 0;
    oldest++;
    if (oldest > 1024 && oldest * 2 > waiting.length) {
      waiting.splice(0, oldest);
      oldest = 0;
    }
    rearm();
  };
  const pump = async (): Promise<void> => {
    while (batches.length > 0 && !stalled) {
      const b = batches.shift()!;
      await writeInOrder(stream, b.messages, { stopped: () => stalled, ...(stall ? { passedOn } : {}) });
    }
    pumping = false;
  };
  return (messages) => {
    if (stalled) return false;
    const sizes = stall ? messages.map((m) => messageBytes(m)) : [];
    const bytes = sizes.reduce((a, b) => a + b, 0);
    if (stall && queued + bytes > stall.maxQueuedBytes && bytes > CONTROL_BATCH_BYTES) return false;
    queued += bytes;
    waiting.push(...sizes);
    // Only progress restarts the clock: a sender that keeps adding to a stuck stream must not keep it alive.
    if (timer === undefined) rearm();
    batches.push({ messages, sizes });
    // Never written in the caller's turn: a message the caller writes directly right after (the coordinator's
    // `registered`, after the registry may already have sent a task) still goes first, as with a promise chain.
    if (!pumping) {
      pumping = true;
      void Promise.resolve().then(pump);
    }
    return true;
  };
}
