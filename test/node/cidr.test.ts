import { canonicalAddress, containsAddress, nthAddress, overlaps, parseCidr } from '../../agent/node/cidr.js';

test('parseCidr clears host bits, canonicalises and refuses malformed prefixes', () => {
  expect(parseCidr('10.244.1.7/24')!.text).toBe('10.244.1.0/24');
  expect(parseCidr('FD00:244:0:0::1/64')!.text).toBe('fd00:244::/64');
  expect(parseCidr('10.0.0.0/0')!.text).toBe('0.0.0.0/0');
  for (const bad of ['10.0.0.0', '10.0.0.0/33', 'fd00::/129', '10.0.0/8', 'x/8', '10.0.0.0/-1', '10.0.0.0/08x']) expect(parseCidr(bad)).toBeUndefined();
});

test('overlaps, containsAddress, nthAddress, canonicalAddress', () => {
  const p = (t: string) => parseCidr(t)!;
  expect(overlaps(p('10.244.0.0/16'), p('10.244.3.0/24'))).toBe(true);
  expect(overlaps(p('10.244.3.0/24'), p('10.244.4.0/24'))).toBe(false);
  expect(overlaps(p('10.244.8.0/23'), p('10.244.9.128/25'))).toBe(true);
  expect(overlaps(p('10.0.0.0/8'), p('fd00::/8'))).toBe(false);
  expect(overlaps(p('0.0.0.0/0'), p('192.0.2.1/32'))).toBe(true);
  expect(containsAddress(p('10.244.1.0/24'), '10.244.1.9')).toBe(true);
  expect(containsAddress(p('10.244.1.0/24'), '10.244.2.9')).toBe(false);
  expect(nthAddress(p('10.244.1.0/24'), 1)).toBe('10.244.1.1');
  expect(nthAddress(p('10.244.0.0/16'), 256)).toBe('10.244.1.0');
  expect(nthAddress(p('fd00:244::/64'), 2)).toBe('fd00:244::2');
  expect(canonicalAddress('FD00:0:0::1')).toBe('fd00::1');
  expect(canonicalAddress('10.1.2.3')).toBe('10.1.2.3');
  expect(canonicalAddress('010.1.2.3')).toBeUndefined();
});
