import { Decimal, makeData, makeVector, type Vector } from 'apache-arrow';

const MASK32 = 0xffffffffn;
const MIN_I128 = -(1n << 127n);
const MAX_I128 = (1n << 127n) - 1n;

/** A Decimal128(38, 0) vector holding exact 128-bit integers (DuckDB HUGEINT sums). */
export function int128Vector(values: readonly bigint[]): Vector {
  const words = new Uint32Array(values.length * 4);
  values.forEach((v, i) => {
    if (v < MIN_I128 || v > MAX_I128) throw new RangeError(`int128Vector: value ${i} does not fit in 128 bits`);
    let x = BigInt.asUintN(128, v);
    for (let w = 0; w < 4; w++) {
      words[i * 4 + w] = Number(x & MASK32);
      x >>= 32n;
    }
  });
  return makeVector(makeData({ type: new Decimal(0, 38, 128), length: values.length, nullCount: 0, data: words }));
}

/** Reads the exact integers back from a Decimal128 vector with scale 0. */
export function readInt128Vector(vec: Vector): bigint[] {
  const type = vec.type as unknown;
  if (!(type instanceof Decimal) || type.scale !== 0 || type.bitWidth !== 128) {
    throw new TypeError(`expected Decimal128 with scale 0, got ${String(vec.type)}`);
  }
  const out: bigint[] = [];
  for (const data of vec.data) {
    const words = data.values as Uint32Array;
    for (let i = 0; i < data.length; i++) {
      let x = 0n;
      for (let w = 3; w >= 0; w--) x = (x << 32n) | BigInt(words[(data.offset + i) * 4 + w]!);
      out.push(BigInt.asIntN(128, x));
    }
  }
  return out;
}
