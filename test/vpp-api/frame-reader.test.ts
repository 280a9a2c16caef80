import { FrameError, FrameReader, writeFrameHeader } from '../../vpp-api/transport/frame-reader.js';

function frame(body: Buffer): Buffer {
  const f = Buffer.alloc(16 + body.length);
  writeFrameHeader(f, 0, body.length);
  body.copy(f, 16);
  return f;
}

describe('FrameReader', () => {
  const bodies = [Buffer.from('0017800000010000002a', 'hex'), Buffer.alloc(0), Buffer.alloc(5000, 7), Buffer.from('abcdef', 'hex')];
  const stream = Buffer.concat(bodies.map(frame));

  test('one chunk with several frames yields each message', () => {
    const got: string[] = [];
    new FrameReader((m) => got.push(m.toString('hex'))).push(stream);
    expect(got).toEqual(bodies.map((b) => b.toString('hex')));
  });

  test('a stream split at every byte boundary yields the same messages', () => {
    for (let cut = 1; cut < stream.length; cut += 7) {
      const got: string[] = [];
      const r = new FrameReader((m) => got.push(Buffer.from(m).toString('hex')));
      r.push(stream.subarray(0, cut));
      r.push(stream.subarray(cut));
      expect(got).toEqual(bodies.map((b) => b.toString('hex')));
      expect(r.buffered).toBe(0);
    }
  });

  test('byte-by-byte delivery', () => {
    const got: string[] = [];
    const r = new FrameReader((m) => got.push(Buffer.from(m).toString('hex')));
    for (let i = 0; i < stream.length; i++) r.push(stream.subarray(i, i + 1));
    expect(got).toEqual(bodies.map((b) => b.toString('hex')));
  });

  test('the q and timestamp header fields are ignored (VPP sends heap addresses in q)', () => {
    const f = frame(Buffer.from('0018', 'hex'));
    f.fill(0xc0, 0, 8);
    f.writeUInt32BE(0xdeadbeef, 12);
    const got: Buffer[] = [];
    new FrameReader((m) => got.push(m)).push(f);
    expect(got.map((m) => m.toString('hex'))).toEqual(['0018']);
  });

  test('a length above the cap is a FrameError (stream out of step)', () => {
    const r = new FrameReader(() => undefined, 1024);
    const f = Buffer.alloc(16);
    f.writeUInt32BE(0x7fffffff, 8);
    expect(() => r.push(f)).toThrow(FrameError);
  });

  test('an incomplete frame waits for the rest', () => {
    const got: Buffer[] = [];
    const r = new FrameReader((m) => got.push(m));
    const f = frame(Buffer.alloc(18, 1));
    r.push(f.subarray(0, 26));
    expect(got).toHaveLength(0);
    expect(r.buffered).toBe(26);
    r.push(f.subarray(26));
    expect(got).toHaveLength(1);
  });
});
