/**
 * Replays the captures of real VPP (../shared/vpp-golden) through the generated codec:
 * every frame decodes to the captured fields and encodes back to exactly the captured bytes.
 */
import { allModules } from '../../vpp-api/generated/index.js';
import type { MessageDef } from '../../vpp-api/codec/types.js';
import { describeWithShared, GOLDEN_DIR, GOLDEN_FILES, haveGolden, maskPrefixes, readGolden, toGoldenForm, type GoldenRecord, bodyOf } from '../helpers/golden.js';

const byNameCrc = new Map<string, MessageDef>();
for (const m of allModules) for (const d of m.messages) byNameCrc.set(d.nameCrc, d);


const cases: [string, GoldenRecord][] = [];
if (haveGolden) {
  for (const file of GOLDEN_FILES) {
    for (const rec of readGolden(file)) {
      if (rec.frame_hex && rec.fields && typeof rec.fields === 'object' && !rec.decode_error) cases.push([file, rec]);
    }
  }
}

describeWithShared('codec-golden', GOLDEN_DIR, 'the real VPP captures')('codec against real VPP captures', () => {
  test('every captured message is known to the generated bindings', () => {
    const unknown = cases.filter(([, r]) => !byNameCrc.has(r.name_crc ?? '')).map(([f, r]) => `${f}#${r.seq} ${r.name_crc}`);
    expect(unknown).toEqual([]);
    expect(cases.length).toBeGreaterThan(400);
  });

  test.each(cases.map(([f, r]) => [`${f}#${r.seq} ${r.name}`, r] as const))('%s', (_label, rec) => {
    const def = byNameCrc.get(rec.name_crc ?? '');
    expect(def).toBeDefined();
    if (!def) return;
    const frame = Buffer.from(rec.frame_hex!, 'hex');
    expect(frame.readUInt16BE(0)).toBe(rec.msg_id);
    const decoded = def.decode(frame);
    expect(maskPrefixes(toGoldenForm(decoded))).toEqual(maskPrefixes(toGoldenForm(bodyOf(rec, def))));
    // Encode back: same size, same bytes.
    const ctx = def.contextOffset >= 0 ? frame.readUInt32BE(def.contextOffset) : 0;
    const ci = def.clientIndexOffset >= 0 ? frame.readUInt32BE(def.clientIndexOffset) : 0;
    expect(def.size(decoded)).toBe(frame.length);
    const out = Buffer.alloc(frame.length);
    def.encode(out, 0, rec.msg_id!, ci, ctx, decoded);
    expect(out.toString('hex')).toBe(rec.frame_hex);
  });
});
