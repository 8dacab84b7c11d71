/**
 * The Merkle tree hash of RFC 6962 §2.1 (Certificate Transparency): leaf = SHA-256(0x00 ‖ entry), interior node =
 * SHA-256(0x01 ‖ left ‖ right), a tree of n leaves split at the largest power of two below n, the empty tree
 * hashing to SHA-256(""). The domain-separation bytes keep a leaf from ever passing as a node (second-preimage
 * defence). A signed checkpoint (tree size + root) then commits to every entry before it.
 */
import { createHash } from 'node:crypto';

export const HASH_BYTES = 32;

export function leafHash(entry: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(0)).update(entry).digest();
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(Buffer.of(1)).update(left).update(right).digest();
}

/** The largest power of two strictly below n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[n]) over leaf hashes, as RFC 6962 defines it (recursive; depth ≤ 53 for any array length). */
export function merkleRoot(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  const rec = (lo: number, hi: number): Buffer => {
    if (hi - lo === 1) return Buffer.from(leaves[lo]!);
    const k = splitPoint(hi - lo);
    return nodeHash(rec(lo, lo + k), rec(lo + k, hi));
  };
  return rec(0, leaves.length);
}

/**
 * The tree's right edge (the roots of its perfect subtrees, largest first), so a writer appends a leaf in
 * O(log n) and computes the root in O(log n) without keeping every leaf. Gives the same root as `merkleRoot`.
 */
export class MerkleFrontier {
  /** Perfect subtree roots with their sizes (powers of two, strictly decreasing). */
  private readonly stack: { size: number; hash: Buffer }[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(leaf: Uint8Array): void {
    let node: { size: number; hash: Buffer } = { size: 1, hash: Buffer.from(leaf) };
    // Two equal perfect subtrees merge into one twice as large (a binary counter's carry).
    while (this.stack.length > 0 && this.stack[this.stack.length - 1]!.size === node.size) {
      const left = this.stack.pop()!;
      node = { size: node.size * 2, hash: nodeHash(left.hash, node.hash) };
    }
    this.stack.push(node);
    this.count++;
  }

  /** The root of the tree of every leaf pushed so far: the perfect subtrees folded from the right. */
  root(): Buffer {
    if (this.stack.length === 0) return merkleRoot([]);
    let acc = this.stack[this.stack.length - 1]!.hash;
    for (let i = this.stack.length - 2; i >= 0; i--) acc = nodeHash(this.stack[i]!.hash, acc);
    return acc;
  }
}
