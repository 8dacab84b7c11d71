import { DataType, Message, Precision, Schema, type Field } from 'apache-arrow';
import { Message as FbMessage } from 'apache-arrow/fb/message';
import { MessageHeader } from 'apache-arrow/fb/message-header';
import { MetadataVersion } from 'apache-arrow/fb/metadata-version';
import { RecordBatch as FbRecordBatch } from 'apache-arrow/fb/record-batch';
import { Schema as FbSchema } from 'apache-arrow/fb/schema';
import type { RecordBatch as RecordBatchHeader } from 'apache-arrow/ipc/metadata/message';
// The flatbuffers runtime apache-arrow itself reads IPC metadata with (its dependency, pinned in the lockfile).
import { ByteBuffer } from 'flatbuffers';

/**
 * Validation of an untrusted Arrow IPC stream (an agent's reply) BEFORE apache-arrow decodes it.
 *
 * `tableFromIPC` trusts the lengths in the metadata: a 392-byte stream whose record batch claims 2^31 rows (or
 * whose flatbuffer claims a vector of 2^31 field nodes) makes it allocate until the process dies. Here every
 * declared length is checked against the bytes actually present and against what the job's plan allows — reading
 * the flatbuffer metadata lazily through apache-arrow's generated accessors, so no work or memory is spent in
 * proportion to a declared length before it is known to be small. After `checkIpcStream` passes, decoding
 * allocates at most a constant factor of the checked byte size.
 */

/** The column types fedmesh's result tables use. `key` is a group key: bool, int64, float64 or utf8. */
export type IpcColumnType = 'int64' | 'bool' | 'float64' | 'utf8' | 'decimal128' | 'key';

export interface IpcExpectation {
  /** Exact column names, in order, and their types. */
  readonly columns: readonly { readonly name: string; readonly type: IpcColumnType }[];
  /** Most rows the plan allows (over all record batches). */
  readonly maxRows: number;
  /** Most bytes the plan allows for the whole stream. */
  readonly maxBytes: number;
}

/** One message's flatbuffer metadata is at most this big (a schema of 1,000 histogram bins is ≈ 100 KB). */
export const MAX_IPC_METADATA_BYTES = 1 << 20;
/** A reply is one record batch from fedmesh agents; a few are tolerated. */
export const MAX_IPC_RECORD_BATCHES = 16;

/** A reply that breaks the expectation: the message says what, never the values inside. */
export class IpcRejection extends Error {
  override readonly name = 'IpcRejection';
}

function fail(message: string): never {
  throw new IpcRejection(message);
}

/** Buffers per column in the IPC body: validity + values, and offsets for utf8. */
function bufferCount(t: DataType): number {
  return DataType.isUtf8(t) ? 3 : 2;
}

function typeMatches(t: DataType, want: IpcColumnType): boolean {
  const int64 = DataType.isInt(t) && t.bitWidth === 64 && t.isSigned;
  const f64 = DataType.isFloat(t) && t.precision === Precision.DOUBLE;
  switch (want) {
    case 'int64':
      return int64;
    case 'bool':
      return DataType.isBool(t);
    case 'float64':
      return f64;
    case 'utf8':
      return DataType.isUtf8(t);
    case 'decimal128':
      return DataType.isDecimal(t) && t.bitWidth === 128 && t.scale === 0;
    case 'key':
      return int64 || f64 || DataType.isBool(t) || DataType.isUtf8(t);
  }
}

/** Bytes of the values buffer a column of `rows` rows needs at least (utf8: its offsets). */
function valuesBytes(t: DataType, rows: number): number {
  if (DataType.isBool(t)) return Math.ceil(rows / 8);
  if (DataType.isDecimal(t)) return rows * 16;
  if (DataType.isUtf8(t)) return rows === 0 ? 0 : (rows + 1) * 4;
  return rows * 8;
}

/** Metadata of one message, read lazily; only small, bounded parts are decoded by apache-arrow. */
function checkSchemaMetadata(fb: FbMessage, expect: IpcExpectation, meta: Uint8Array): Schema {
  const s = fb.header(new FbSchema()) as FbSchema | null;
  if (!s) fail('schema message without a schema');
  if (s.fieldsLength() !== expect.columns.length) fail(`schema has ${s.fieldsLength()} columns, the plan expects ${expect.columns.length}`);
  if (s.customMetadataLength() > 16 || s.featuresLength() > 16) fail('schema carries unexpected metadata');
  for (let i = 0; i < s.fieldsLength(); i++) {
    const f = s.fields(i);
    if (!f) fail(`schema column ${i} is missing`);
    if (f.childrenLength() !== 0) fail(`schema column ${i} is nested`);
    if (f.dictionary() !== null) fail(`schema column ${i} is dictionary-encoded`);
    if (f.customMetadataLength() > 16) fail(`schema column ${i} carries unexpected metadata`);
  }
  // Every vector is now known to be small: let apache-arrow decode the schema.
  const schema = Message.decode(meta).header() as Schema;
  if (!(schema instanceof Schema)) fail('schema message does not decode to a schema');
  schema.fields.forEach((field: Field, i: number) => {
    const want = expect.columns[i]!;
    if (field.name !== want.name) fail(`column ${i} should be ${want.name}`);
    if (!typeMatches(field.type, want.type)) fail(`column ${want.name} has type ${String(field.type).slice(0, 40)}, the plan expects ${want.type}`);
  });
  return schema;
}

function checkBatch(fb: FbMessage, meta: Uint8Array, schema: Schema, body: Uint8Array, rowsSoFar: number, expect: IpcExpectation): number {
  const rb = fb.header(new FbRecordBatch()) as FbRecordBatch | null;
  if (!rb) fail('record batch message without a header');
  const length = rb.length();
  if (length < 0n || length > BigInt(expect.maxRows - rowsSoFar)) fail(`record batch claims ${length} rows, the plan allows at most ${expect.maxRows} in all`);
  const buffers = schema.fields.reduce((n, f) => n + bufferCount(f.type), 0);
  if (rb.nodesLength() !== schema.fields.length) fail(`record batch has ${rb.nodesLength()} field nodes for ${schema.fields.length} columns`);
  if (rb.buffersLength() !== buffers) fail(`record batch has ${rb.buffersLength()} buffers, the schema needs ${buffers}`);
  if (rb.variadicBufferCountsLength() !== 0) fail('record batch has variadic buffers');
  if (rb.compression() !== null) fail('record batch is compressed');
  const header = Message.decode(meta).header() as RecordBatchHeader;
  const rows = Number(length);
  let b = 0;
  for (const [i, field] of schema.fields.entries()) {
    const node = header.nodes[i]!;
    if (node.length !== rows) fail(`column ${field.name} claims ${node.length} rows in a batch of ${rows}`);
    if (!(node.nullCount >= 0 && node.nullCount <= rows)) fail(`column ${field.name} claims ${node.nullCount} nulls`);
    const regions = header.buffers.slice(b, b + bufferCount(field.type));
    b += regions.length;
    for (const r of regions) {
      if (!(Number.isSafeInteger(r.offset) && Number.isSafeInteger(r.length) && r.offset >= 0 && r.length >= 0 && r.offset + r.length <= body.byteLength)) {
        fail(`column ${field.name} has a buffer outside the message body`);
      }
    }
    const [validity, values, data] = regions;
    if (node.nullCount > 0 && validity!.length < Math.ceil(rows / 8)) fail(`column ${field.name} has a short validity bitmap`);
    if (values!.length < valuesBytes(field.type, rows)) fail(`column ${field.name} has ${values!.length} value bytes for ${rows} rows`);
    if (DataType.isUtf8(field.type) && rows > 0) {
      // Offsets must rise from ≥ 0 to at most the data buffer's length, or decoding reads outside it.
      const off = new DataView(body.buffer, body.byteOffset + values!.offset, (rows + 1) * 4);
      let prev = off.getInt32(0, true);
      if (prev < 0) fail(`column ${field.name} has a negative string offset`);
      for (let r = 1; r <= rows; r++) {
        const o = off.getInt32(r * 4, true);
        if (o < prev) fail(`column ${field.name} has decreasing string offsets`);
        prev = o;
      }
      if (prev > data!.length) fail(`column ${field.name} has strings past its data buffer`);
    }
  }
  return rows;
}

/**
 * Checks the framing, schema and every record batch header of an Arrow IPC stream against the plan, touching only
 * bytes that are present: O(bytes) time, no allocation proportional to a declared length.
 * @throws IpcRejection saying what does not match (never echoing data values)
 */
export function checkIpcStream(bytes: Uint8Array, expect: IpcExpectation): void {
  if (bytes.byteLength > expect.maxBytes) fail(`${bytes.byteLength} bytes exceed the ${expect.maxBytes} the plan allows`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  let schema: Schema | undefined;
  let rows = 0;
  let batches = 0;
  while (p < bytes.byteLength) {
    if (p + 8 > bytes.byteLength) fail('truncated message prefix');
    if (view.getInt32(p, true) !== -1) fail('missing continuation marker (not an Arrow IPC stream)');
    const metaLength = view.getInt32(p + 4, true);
    if (metaLength === 0) {
      p += 8;
      if (p !== bytes.byteLength) fail('bytes after the end-of-stream marker');
      break;
    }
    if (metaLength < 0 || metaLength > MAX_IPC_METADATA_BYTES || p + 8 + metaLength > bytes.byteLength) fail('message metadata length out of bounds');
    const meta = bytes.subarray(p + 8, p + 8 + metaLength);
    let fb: FbMessage;
    let bodyLength: bigint;
    try {
      fb = FbMessage.getRootAsMessage(new ByteBuffer(meta));
      bodyLength = fb.bodyLength();
    } catch {
      fail('unreadable message metadata');
    }
    if (fb.version() < MetadataVersion.V4) fail('unsupported metadata version');
    const start = p + 8 + metaLength;
    if (bodyLength < 0n || bodyLength > BigInt(bytes.byteLength - start)) fail('message body length out of bounds');
    const body = bytes.subarray(start, start + Number(bodyLength));
    p = start + Number(bodyLength);
    const type = fb.headerType();
    if (type === MessageHeader.Schema) {
      if (schema) fail('a second schema message');
      if (bodyLength !== 0n) fail('schema message with a body');
      schema = checkSchemaMetadata(fb, expect, meta);
    } else if (type === MessageHeader.RecordBatch) {
      if (!schema) fail('record batch before the schema');
      if (++batches > MAX_IPC_RECORD_BATCHES) fail(`more than ${MAX_IPC_RECORD_BATCHES} record batches`);
      rows += checkBatch(fb, meta, schema, body, rows, expect);
    } else {
      fail(`unexpected message type ${String(type)} (only a schema and record batches are accepted)`);
    }
  }
  if (!schema) fail('no schema message');
}
