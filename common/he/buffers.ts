import { FedmeshError } from '../errors.js';

/** Splits back-to-back fixed-size ciphertexts into views of the same memory (no copy). */
export function splitCiphertexts(buffer: Uint8Array, ciphertextByteSize: number): Uint8Array[] {
  if (buffer.byteLength % ciphertextByteSize !== 0) {
    throw new FedmeshError(
      'INVALID_ARGUMENT',
      `a ciphertext buffer of ${buffer.byteLength} bytes is not a whole number of ${ciphertextByteSize}-byte ciphertexts`,
    );
  }
  const out: Uint8Array[] = [];
  for (let o = 0; o < buffer.byteLength; o += ciphertextByteSize) out.push(buffer.subarray(o, o + ciphertextByteSize));
  return out;
}
