/**
 * The byte layout of SEAL 4.1 serialisations (the SEAL inside node-seal 6.0.3), as far as fedmesh needs it to
 * size and screen untrusted ciphertexts before any byte reaches SEAL.
 *
 * Every SEAL object starts with a 16-byte little-endian header:
 *   u16 magic 0xA15E · u8 header size (16) · u8 version major · u8 version minor · u8 compression mode
 *   (0 none, 1 zlib, 2 zstd) · u16 reserved (0) · u64 total size in bytes, header included.
 * A ciphertext body (compression `none`) is then:
 *   parms_id (4 × u64) · u8 is_ntt_form · u64 size (polynomials, 2 when fresh) · u64 poly modulus degree ·
 *   u64 coeff modulus count · f64 scale · u64 correction factor · the coefficient array, itself a SEAL
 *   object: 16-byte header · u64 count · count × u64 coefficients (count = size · degree · coeff count).
 * So a ciphertext is exactly 113 + 8 · size · degree · coeffCount bytes. A public key is a size-2
 * ciphertext at the key level (all primes, NTT form); a secret key is a plaintext at the key level:
 *   header · parms_id · u64 coeff count · f64 scale · array header · u64 count · coefficients = 88 + 8·n·k.
 * Compressed sizes depend on the data; fedmesh never produces or accepts them.
 */

export const SEAL_MAGIC = 0xa15e;
export const SEAL_HEADER_BYTES = 16;
export const SEAL_VERSION_MAJOR = 4;
export const SEAL_VERSION_MINOR = 1;

export type SealCompression = 'none' | 'zlib' | 'zstd';
const COMPRESSION_BY_CODE: readonly SealCompression[] = ['none', 'zlib', 'zstd'];

/** Bytes of a ciphertext before its coefficients: outer header, metadata, coefficient-array header and count. */
export const CIPHERTEXT_OVERHEAD_BYTES = 113;
/** Bytes of a serialised plaintext (the secret key) before its coefficients. */
export const PLAINTEXT_OVERHEAD_BYTES = 88;

/** Offsets inside a ciphertext serialisation (compression `none`). */
const OFF_PARMS_ID = 16;
const OFF_NTT = 48;
const OFF_SIZE = 49;
const OFF_DEGREE = 57;
const OFF_COEFF_COUNT = 65;
const OFF_SCALE = 73;
const OFF_CORRECTION = 81;
const OFF_DATA_HEADER = 89;
const OFF_DATA_COUNT = 105;

function checkPositiveInt(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
}

/**
 * The exact serialised size of a BFV ciphertext.
 * @param size polynomials in the ciphertext; 2 for fresh ciphertexts and sums of them. @default 2
 * @throws RangeError for compressed modes, whose size depends on the data (and which fedmesh refuses),
 *   or for non-positive arguments.
 */
export function ciphertextByteSize(
  polyModulusDegree: number,
  coeffModulusCount: number,
  compression: SealCompression = 'none',
  size = 2,
): number {
  checkPositiveInt('polyModulusDegree', polyModulusDegree);
  checkPositiveInt('coeffModulusCount', coeffModulusCount);
  checkPositiveInt('size', size);
  if (compression !== 'none') {
    throw new RangeError(`ciphertextByteSize: a ${compression}-compressed size depends on the data; only 'none' has an exact size`);
  }
  return CIPHERTEXT_OVERHEAD_BYTES + 8 * size * polyModulusDegree * coeffModulusCount;
}

/** Exact size of a serialised public key (a size-2 ciphertext over all `keyCoeffModulusCount` primes). */
export function publicKeyByteSize(polyModulusDegree: number, keyCoeffModulusCount: number): number {
  return ciphertextByteSize(polyModulusDegree, keyCoeffModulusCount);
}

/** Exact size of a serialised secret key (a plaintext over all `keyCoeffModulusCount` primes). */
export function secretKeyByteSize(polyModulusDegree: number, keyCoeffModulusCount: number): number {
  checkPositiveInt('polyModulusDegree', polyModulusDegree);
  checkPositiveInt('keyCoeffModulusCount', keyCoeffModulusCount);
  return PLAINTEXT_OVERHEAD_BYTES + 8 * polyModulusDegree * keyCoeffModulusCount;
}

export interface SealHeader {
  readonly magic: number;
  readonly headerBytes: number;
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** The compression code as stored; `compression` names it when it is known. */
  readonly compressionCode: number;
  readonly compression: SealCompression | undefined;
  readonly reserved: number;
  /** Total size claimed by the header, header included. */
  readonly totalBytes: bigint;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Reads a SEAL header without judging it. @throws RangeError if fewer than 16 bytes are given. */
export function readSealHeader(bytes: Uint8Array): SealHeader {
  if (bytes.byteLength < SEAL_HEADER_BYTES) {
    throw new RangeError(`a SEAL header needs ${SEAL_HEADER_BYTES} bytes, got ${bytes.byteLength}`);
  }
  const v = view(bytes);
  const compressionCode = v.getUint8(5);
  return {
    magic: v.getUint16(0, true),
    headerBytes: v.getUint8(2),
    versionMajor: v.getUint8(3),
    versionMinor: v.getUint8(4),
    compressionCode,
    compression: COMPRESSION_BY_CODE[compressionCode],
    reserved: v.getUint16(6, true),
    totalBytes: v.getBigUint64(8, true),
  };
}

export type ScreenResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const OK: ScreenResult = Object.freeze({ ok: true });
const fail = (reason: string): ScreenResult => ({ ok: false, reason });

function screenHeader(h: SealHeader, actualBytes: number, what: string): ScreenResult {
  if (h.magic !== SEAL_MAGIC) {
    return fail(`${what} does not start with the SEAL magic 0x${SEAL_MAGIC.toString(16)} (found 0x${h.magic.toString(16).padStart(4, '0')})`);
  }
  if (h.headerBytes !== SEAL_HEADER_BYTES) return fail(`${what} has a SEAL header size of ${h.headerBytes}, expected ${SEAL_HEADER_BYTES}`);
  if (h.versionMajor !== SEAL_VERSION_MAJOR || h.versionMinor !== SEAL_VERSION_MINOR) {
    return fail(`${what} was written by SEAL ${h.versionMajor}.${h.versionMinor}, expected ${SEAL_VERSION_MAJOR}.${SEAL_VERSION_MINOR}`);
  }
  if (h.compressionCode !== 0) {
    const name = h.compression ?? `unknown (code ${h.compressionCode})`;
    return fail(`${what} is ${name}-compressed; compressed input is refused (untrusted input is never decompressed)`);
  }
  if (h.reserved !== 0) return fail(`${what} has a non-zero reserved header field`);
  if (h.totalBytes !== BigInt(actualBytes)) return fail(`${what} header claims ${h.totalBytes} bytes but ${actualBytes} were received`);
  return OK;
}

export interface CiphertextExpectation {
  readonly polyModulusDegree: number;
  /** Primes at the level the ciphertext must be at. */
  readonly coeffModulusCount: number;
  /** The SEAL parms_id of that level (4 × u64); when given, it must match. */
  readonly parmsId?: ArrayLike<bigint>;
  /** Public keys are stored in NTT form; BFV ciphertexts never are. @default false */
  readonly nttForm?: boolean;
  /** A label for messages, e.g. `ciphertext 3 from agent hospital-a`. @default 'ciphertext' */
  readonly what?: string;
}

/**
 * Screens an untrusted ciphertext (or public key) serialisation: exact byte length first, then the SEAL
 * header (magic, version, compression `none`), then the metadata (size 2, degree, coefficient count,
 * parms_id, BFV scale and correction factor) and the coefficient array's own header. Pure and cheap: it
 * reads 113 bytes and never decompresses or allocates in proportion to the input.
 */
export function screenCiphertextBytes(bytes: Uint8Array, expected: CiphertextExpectation): ScreenResult {
  const what = expected.what ?? 'ciphertext';
  const n = expected.polyModulusDegree;
  const k = expected.coeffModulusCount;
  const want = ciphertextByteSize(n, k);
  if (bytes.byteLength < SEAL_HEADER_BYTES) {
    return fail(`${what} is ${bytes.byteLength} bytes, too short for a SEAL header; expected exactly ${want} bytes`);
  }
  // Read the header first so a compressed input is named as such, whatever its length.
  const headerResult = screenHeader(readSealHeader(bytes), bytes.byteLength, what);
  if (!headerResult.ok && bytes.byteLength === want) return headerResult;
  if (bytes.byteLength !== want) {
    const why = headerResult.ok ? '' : `; also, ${headerResult.reason}`;
    return fail(`${what} is ${bytes.byteLength} bytes, expected exactly ${want} bytes (degree ${n}, ${k} prime${k === 1 ? '' : 's'}, uncompressed)${why}`);
  }
  const v = view(bytes);
  const ntt = expected.nttForm === true ? 1 : 0;
  if (v.getUint8(OFF_NTT) !== ntt) return fail(`${what} is ${ntt ? 'not ' : ''}in NTT form, which it must ${ntt ? '' : 'not '}be`);
  if (v.getBigUint64(OFF_SIZE, true) !== 2n) return fail(`${what} has ${v.getBigUint64(OFF_SIZE, true)} polynomials, expected 2`);
  if (v.getBigUint64(OFF_DEGREE, true) !== BigInt(n)) return fail(`${what} has degree ${v.getBigUint64(OFF_DEGREE, true)}, expected ${n}`);
  if (v.getBigUint64(OFF_COEFF_COUNT, true) !== BigInt(k)) {
    return fail(`${what} is at a level with ${v.getBigUint64(OFF_COEFF_COUNT, true)} primes, expected ${k}`);
  }
  if (v.getFloat64(OFF_SCALE, true) !== 1) return fail(`${what} has scale ${v.getFloat64(OFF_SCALE, true)}, expected 1 for BFV`);
  if (v.getBigUint64(OFF_CORRECTION, true) !== 1n) return fail(`${what} has a correction factor other than 1`);
  if (expected.parmsId !== undefined) {
    for (let i = 0; i < 4; i++) {
      if (v.getBigUint64(OFF_PARMS_ID + 8 * i, true) !== expected.parmsId[i]) {
        return fail(`${what} belongs to different encryption parameters or level (parms_id mismatch)`);
      }
    }
  }
  const dataBytes = want - OFF_DATA_HEADER;
  const inner = screenHeader(readSealHeader(bytes.subarray(OFF_DATA_HEADER)), dataBytes, `${what} coefficient array`);
  if (!inner.ok) return inner;
  if (v.getBigUint64(OFF_DATA_COUNT, true) !== BigInt(2 * n * k)) return fail(`${what} coefficient count does not match its metadata`);
  return OK;
}
