import { describe, expect, it } from 'vitest';
import { MerkleFrontier, leafHash, merkleRoot, nodeHash } from './merkle.js';

// Certificate Transparency's published RFC 6962 test vectors (transparency-dev/merkle, testonly/constants.go; also
// certificate-transparency's merkle_tree_test): these leaf inputs, and the tree head of the first n of them.
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
const CT_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

describe('RFC 6962 Merkle tree hash', () => {
  const leaves = CT_LEAVES.map(leafHash);

  it('matches the Certificate Transparency tree heads for every size 0..8', () => {
    for (let n = 0; n <= 8; n++) expect(merkleRoot(leaves.slice(0, n)).toString('hex'), `size ${n}`).toBe(CT_ROOTS[n]);
  });

  it('the incremental frontier gives the same root at every size', () => {
    const f = new MerkleFrontier();
    expect(f.root().toString('hex')).toBe(CT_ROOTS[0]);
    for (let n = 1; n <= 8; n++) {
      f.push(leaves[n - 1]!);
      expect(f.root().toString('hex'), `size ${n}`).toBe(CT_ROOTS[n]);
    }
    // Beyond the vectors: frontier and recursion agree on every shape up to 70 leaves.
    const many = Array.from({ length: 70 }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));
    const g = new MerkleFrontier();
    for (let n = 1; n <= many.length; n++) {
      g.push(many[n - 1]!);
      expect(g.root().equals(merkleRoot(many.slice(0, n)))).toBe(true);
    }
  });

  it('a hand-derived three-leaf tree splits at 2, not in the middle', () => {
    const [a, b, c] = leaves.slice(0, 3) as [Buffer, Buffer, Buffer];
    expect(merkleRoot([a, b, c]).equals(nodeHash(nodeHash(a, b), c))).toBe(true);
  });

  it('negative controls: without the 0x00 / 0x01 prefixes, or with a midpoint split, the published heads are missed', async () => {
    const { createHash } = await import('node:crypto');
    const plainLeaf = (x: Buffer): Buffer => createHash('sha256').update(x).digest();
    expect(merkleRoot(CT_LEAVES.slice(0, 2).map(plainLeaf)).toString('hex')).not.toBe(CT_ROOTS[2]);
    expect(leafHash(Buffer.from('01', 'hex')).toString('hex')).not.toBe(CT_ROOTS[2]);
    const [a, b, c, d, e] = leaves.slice(0, 5) as [Buffer, Buffer, Buffer, Buffer, Buffer];
    // A 3 + 2 split of five leaves is a different tree from RFC 6962's 4 + 1.
    expect(nodeHash(nodeHash(nodeHash(a, b), c), nodeHash(d, e)).toString('hex')).not.toBe(CT_ROOTS[5]);
  });
});
