import { Message } from 'apache-arrow';
import { Message as FbMessage } from 'apache-arrow/fb/message';
import { MessageHeader } from 'apache-arrow/fb/message-header';
import { MetadataVersion } from 'apache-arrow/fb/metadata-version';
import { RecordBatch as FbRecordBatch } from 'apache-arrow/fb/record-batch';
import { BufferRegion, FieldNode, RecordBatch as RecordBatchHeader } from 'apache-arrow/ipc/metadata/message';
import { Builder } from 'flatbuffers';
import { encodePartials } from '../../common/arrow/index.js';

/**
 * Hostile Arrow IPC replies for issue 8 #5, built from a valid agent reply: the same schema message followed by a
 * record batch whose header lies about its size. Test-only.
 */

/**
 * A valid reply of an aggregate `count` job of the built-in path: without groupBy one row (472 bytes), or with one
 * data-derived key column when `key` is given (the group `[key]`).
 */
export function validCountReply(count = 10n, key?: number): Uint8Array {
  return key === undefined ? encodePartials([{ key: [], count, measures: [{ kind: 'count' }], suppressedBy: [] }], 0, [{ kind: 'count' }]) : encodePartials([{ key: [key], count, measures: [{ kind: 'count' }], suppressedBy: [] }], 1, [{ kind: 'count' }]);
}

/** Byte ranges [start, end) of the messages in an IPC stream (continuation + length + metadata + body). */
export function messageFrames(bytes: Uint8Array): [number, number][] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: [number, number][] = [];
  let p = 0;
  while (p + 8 <= bytes.length) {
    const ml = view.getInt32(p + 4, true);
    if (ml === 0) break;
    const m = Message.decode(bytes.subarray(p + 8, p + 8 + ml));
    out.push([p, p + 8 + ml + m.bodyLength]);
    p += 8 + ml + m.bodyLength;
  }
  return out;
}

function frame(meta: Uint8Array, body = new Uint8Array(0)): Uint8Array {
  const pad = (8 - (meta.length % 8)) % 8;
  const out = new Uint8Array(8 + meta.length + pad + body.length);
  const view = new DataView(out.buffer);
  view.setInt32(0, -1, true);
  view.setInt32(4, meta.length + pad, true);
  out.set(meta, 8);
  out.set(body, 8 + meta.length + pad);
  return out;
}

const EOS = new Uint8Array([255, 255, 255, 255, 0, 0, 0, 0]);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The valid schema message of `validCountReply`, followed by a record batch claiming `rows` rows and no body. */
export function hugeLengthReply(rows = 2 ** 31 - 1, key?: number): Uint8Array {
  const good = validCountReply(10n, key);
  const [schemaEnd] = messageFrames(good).map(([, e]) => e);
  // One field node per column (the key's, if any, then count and suppressed), two buffers each.
  const columns = key === undefined ? 2 : 3;
  const header = new RecordBatchHeader(rows, Array.from({ length: columns }, () => new FieldNode(rows, 0)), Array.from({ length: 2 * columns }, () => new BufferRegion(0, 0)), null);
  return concat(good.subarray(0, schemaEnd), frame(Message.encode(Message.from(header, 0) as Message)), EOS);
}

/** The valid schema, then a record batch whose flatbuffer claims a vector of `nodes` field nodes it does not hold. */
export function nodeVectorBombReply(nodes = 2 ** 30, key?: number): Uint8Array {
  const good = validCountReply(10n, key);
  const [schemaEnd] = messageFrames(good).map(([, e]) => e);
  const b = new Builder(256);
  // An empty vector whose length prefix claims `nodes` elements (the builder would otherwise reserve them).
  FbRecordBatch.startNodesVector(b, 0);
  (b as unknown as { vector_num_elems: number }).vector_num_elems = nodes;
  const nodeVec = b.endVector();
  FbRecordBatch.startBuffersVector(b, 0);
  const bufVec = b.endVector();
  FbRecordBatch.startRecordBatch(b);
  FbRecordBatch.addLength(b, 1n);
  FbRecordBatch.addNodes(b, nodeVec);
  FbRecordBatch.addBuffers(b, bufVec);
  const rb = FbRecordBatch.endRecordBatch(b);
  FbMessage.startMessage(b);
  FbMessage.addVersion(b, MetadataVersion.V5);
  FbMessage.addHeaderType(b, MessageHeader.RecordBatch);
  FbMessage.addHeader(b, rb);
  FbMessage.addBodyLength(b, 0n);
  b.finish(FbMessage.endMessage(b));
  return concat(good.subarray(0, schemaEnd), frame(b.asUint8Array()), EOS);
}
