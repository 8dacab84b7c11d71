/**
 * Mask expansion: a seed becomes a pseudo-random vector in Z_2^32 through the injected PRG. The round id is
 * bound into the PRG context so that one seed never yields the same mask in two rounds.
 */
import type { Prg } from './crypto.js';

/** Version tag of the mask derivation; bump it if the derivation ever changes. */
export const MASK_INFO_PREFIX = 'fedmesh/secagg/v1/mask';

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Expands `seed` into `length` elements of Z_2^32 (the PRG's bytes read as little-endian uint32, on any host).
 * @throws RangeError if `length` is not a non-negative integer, `seed` is shorter than 16 bytes, or `roundId` is empty;
 *   TypeError if the PRG returns the wrong number of bytes
 */
export function expandMask(prg: Prg, seed: Uint8Array, length: number, roundId: string): Uint32Array {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`expandMask: length must be a non-negative integer, got ${length}`);
  if (seed.length < 16) throw new RangeError(`expandMask: seed must be at least 16 bytes, got ${seed.length}`);
  if (roundId.length === 0) throw new RangeError('expandMask: roundId must not be empty');
  const nBytes = length * 4;
  const bytes = prg(seed, `${MASK_INFO_PREFIX}/${roundId}`, nBytes);
  if (bytes.length !== nBytes) throw new TypeError(`expandMask: prg returned ${bytes.length} bytes, expected ${nBytes}`);
  if (HOST_IS_LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
    // Zero-copy view when the PRG's buffer is aligned (Node's Buffers from a cipher usually are not pooled).
    return new Uint32Array(bytes.buffer, bytes.byteOffset, length);
  }
  const out = new Uint32Array(length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < length; i++) out[i] = view.getUint32(i * 4, true);
  return out;
}
