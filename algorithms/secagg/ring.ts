/**
 * Arithmetic in the rings Z_2^32 (on `Uint32Array`) and Z_2^64 (on `BigUint64Array`). Every operation wraps
 * modulo the ring size, which is what makes pairwise masks cancel exactly. Vectors of different lengths are a
 * programming error and throw RangeError.
 */

function sameLength(name: string, a: { length: number }, b: { length: number }): void {
  if (a.length !== b.length) {
    throw new RangeError(`${name}: vectors must have equal length, got ${a.length} and ${b.length}`);
  }
}

/** a + b in Z_2^32, as a new vector. */
export function ringAdd(a: Uint32Array, b: Uint32Array): Uint32Array {
  return ringAddInPlace(Uint32Array.from(a), b);
}

/** a − b in Z_2^32, as a new vector. */
export function ringSub(a: Uint32Array, b: Uint32Array): Uint32Array {
  return ringSubInPlace(Uint32Array.from(a), b);
}

/** −a in Z_2^32, as a new vector. */
export function ringNeg(a: Uint32Array): Uint32Array {
  const out = new Uint32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = -a[i]! >>> 0;
  return out;
}

/** acc += b in Z_2^32; returns `acc`. */
export function ringAddInPlace(acc: Uint32Array, b: Uint32Array): Uint32Array {
  sameLength('ringAddInPlace', acc, b);
  // Uint32Array stores modulo 2^32 on assignment; the JS sum of two uint32 is exact in a double.
  for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + b[i]!;
  return acc;
}

/** acc −= b in Z_2^32; returns `acc`. */
export function ringSubInPlace(acc: Uint32Array, b: Uint32Array): Uint32Array {
  sameLength('ringSubInPlace', acc, b);
  for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! - b[i]!;
  return acc;
}

/**
 * acc += b where the limbs of `acc` and `b` form multi-limb integers: limb i carries into limb i + 1 when carry[i]
 * is 1, so each integer adds in Z_2^(32·its limbs) (single limbs as in Z_2^32). `carry` undefined: ringAddInPlace.
 */
export function ringAddInPlaceCarry(acc: Uint32Array, b: Uint32Array, carry: Uint8Array | undefined): Uint32Array {
  if (carry === undefined) return ringAddInPlace(acc, b);
  sameLength('ringAddInPlaceCarry', acc, b);
  sameLength('ringAddInPlaceCarry (carry)', acc, carry);
  let c = 0;
  for (let i = 0; i < acc.length; i++) {
    const s = acc[i]! + b[i]! + c;
    acc[i] = s;
    c = carry[i] === 1 && s > 0xffffffff ? 1 : 0;
  }
  return acc;
}

/** acc −= b on multi-limb integers (see {@link ringAddInPlaceCarry}): a borrow moves into the next limb of one integer. */
export function ringSubInPlaceCarry(acc: Uint32Array, b: Uint32Array, carry: Uint8Array | undefined): Uint32Array {
  if (carry === undefined) return ringSubInPlace(acc, b);
  sameLength('ringSubInPlaceCarry', acc, b);
  sameLength('ringSubInPlaceCarry (carry)', acc, carry);
  let c = 0;
  for (let i = 0; i < acc.length; i++) {
    const d = acc[i]! - b[i]! - c;
    acc[i] = d;
    c = carry[i] === 1 && d < 0 ? 1 : 0;
  }
  return acc;
}

/**
 * Σ vectors in Z_2^32. @throws RangeError if `vectors` is empty (the length would be unknown) or lengths differ
 */
export function ringSum(vectors: readonly Uint32Array[]): Uint32Array {
  const first = vectors[0];
  if (first === undefined) throw new RangeError('ringSum: vectors must not be empty');
  const acc = Uint32Array.from(first);
  for (let k = 1; k < vectors.length; k++) ringAddInPlace(acc, vectors[k]!);
  return acc;
}

/** a + b in Z_2^64. */
export function ring64Add(a: BigUint64Array, b: BigUint64Array): BigUint64Array {
  sameLength('ring64Add', a, b);
  const out = new BigUint64Array(a.length);
  // BigUint64Array reduces modulo 2^64 on assignment.
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

/** a − b in Z_2^64. */
export function ring64Sub(a: BigUint64Array, b: BigUint64Array): BigUint64Array {
  sameLength('ring64Sub', a, b);
  const out = new BigUint64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! - b[i]!;
  return out;
}

/** −a in Z_2^64. */
export function ring64Neg(a: BigUint64Array): BigUint64Array {
  const out = new BigUint64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = -a[i]!;
  return out;
}

/** Σ vectors in Z_2^64. @throws RangeError if `vectors` is empty or lengths differ */
export function ring64Sum(vectors: readonly BigUint64Array[]): BigUint64Array {
  const first = vectors[0];
  if (first === undefined) throw new RangeError('ring64Sum: vectors must not be empty');
  let acc: BigUint64Array = BigUint64Array.from(first);
  for (let k = 1; k < vectors.length; k++) acc = ring64Add(acc, vectors[k]!);
  return acc;
}

/** Little-endian bytes of a Z_2^32 vector (the wire form of masked inputs), independent of host byte order. */
export function ringToBytes(v: Uint32Array): Uint8Array {
  const out = new Uint8Array(v.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) view.setUint32(i * 4, v[i]!, true);
  return out;
}

/** Inverse of {@link ringToBytes}. @throws RangeError if the byte length is not a multiple of 4 */
export function ringFromBytes(bytes: Uint8Array): Uint32Array {
  if (bytes.length % 4 !== 0) throw new RangeError(`ringFromBytes: bytes.length must be a multiple of 4, got ${bytes.length}`);
  const n = bytes.length / 4;
  const out = new Uint32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = view.getUint32(i * 4, true);
  return out;
}
