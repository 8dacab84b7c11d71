import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope } from './envelope.js';

/** The agent link's binary envelope, in process (issue 9, test pyramid): exact round trips, refusals of hostile bytes. */
describe('protocol envelope', () => {
  const message = { round: 2, roundId: 'job/1', masked: new Uint8Array([0, 255, 7]), shares: [{ to: 's2', bytes: new Uint8Array(0) }, { to: 's3', bytes: new Uint8Array(70_000).fill(9) }], note: null };

  it('round-trips JSON with byte blobs anywhere in it, exactly, blobs as bytes (not base64)', () => {
    const bytes = encodeEnvelope(message);
    expect(decodeEnvelope(bytes)).toEqual(message);
    // 70 000 bytes of blob cost 70 000 bytes on the wire, plus the JSON and the framing.
    expect(bytes.length).toBeLessThan(70_000 + 300);
    // A view into a larger buffer decodes the same (offsets are honoured).
    const framed = new Uint8Array(bytes.length + 10);
    framed.set(bytes, 5);
    expect(decodeEnvelope(framed.subarray(5, 5 + bytes.length))).toEqual(message);
  });

  it('negative: truncated, trailing, oversized, non-UTF-8, bad-JSON and bad-reference envelopes are INVALID_ARGUMENT', () => {
    const good = encodeEnvelope(message);
    const json = (text: string, blobs: Uint8Array[] = []): Uint8Array => {
      const j = new TextEncoder().encode(text);
      const out = new Uint8Array(8 + j.length + blobs.reduce((a, b) => a + 4 + b.length, 0));
      const v = new DataView(out.buffer);
      v.setUint32(0, j.length, true);
      out.set(j, 4);
      v.setUint32(4 + j.length, blobs.length, true);
      let at = 8 + j.length;
      for (const b of blobs) {
        v.setUint32(at, b.length, true);
        out.set(b, at + 4);
        at += 4 + b.length;
      }
      return out;
    };
    const hugeCount = json('{}');
    new DataView(hugeCount.buffer).setUint32(6, 0xffffffff, true);
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(0), /truncated/],
      [good.subarray(0, good.length - 1), /truncated/],
      [new Uint8Array([...good, 0]), /trailing bytes/],
      [new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2]), /truncated/],
      [hugeCount, /too many blobs/],
      [json('{"a":'), /malformed round 3 payload: /],
      [new Uint8Array([2, 0, 0, 0, 0xc3, 0x28, 0, 0, 0, 0]), /malformed round 3 payload: /],
      [json('{"x":{"$b":0}}'), /bad blob reference/],
      [json('{"x":{"$b":-1}}', [new Uint8Array(1)]), /bad blob reference/],
      [json('{"x":{"$b":"0"}}', [new Uint8Array(1)]), /bad blob reference/],
    ];
    for (const [bytes, why] of cases) {
      expect(() => decodeEnvelope(bytes, 'round 3 payload'), String(why)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(why) }));
    }
    expect(() => decodeEnvelope(new Uint8Array(0), 'round 3 payload')).toThrow('malformed round 3 payload: truncated');
    // Negative control: the hand-made framing is right, so a valid reference decodes.
    expect(decodeEnvelope(json('{"x":{"$b":0}}', [new Uint8Array([5])]))).toEqual({ x: new Uint8Array([5]) });
  });
});
