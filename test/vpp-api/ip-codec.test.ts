import { VppEncodeError } from '../../vpp-api/codec/errors.js';
import {
  canonicalIp,
  decAddress,
  decMacAddress,
  decPrefix,
  encAddress,
  encMacAddress,
  encPrefix,
  formatIp6,
  isIpAddress,
} from '../../vpp-api/codec/ip.js';

describe('address string forms', () => {
  test.each([
    ['10.0.0.1', '000a000001' + '00'.repeat(12)],
    ['fd00::1', '01fd00' + '00'.repeat(13) + '01'],
    ['::', '01' + '00'.repeat(16)],
  ])('address %s encodes to VPP bytes and back', (text, hex) => {
    const b = Buffer.alloc(17, 0xff);
    encAddress(b, 0, text);
    expect(b.toString('hex')).toBe(hex);
    expect(decAddress(b, { p: 0 })).toBe(text);
  });

  test('prefix bytes match the protocol sheet examples', () => {
    const b = Buffer.alloc(18);
    encPrefix(b, 0, '10.1.2.0/24');
    expect(b.toString('hex')).toBe('000a010200' + '00'.repeat(12) + '18');
    encPrefix(b, 0, '2001:db8::/32');
    expect(b.toString('hex')).toBe('0120010db8' + '00'.repeat(12) + '20');
    expect(decPrefix(b, { p: 0 })).toBe('2001:db8::/32');
  });

  test.each([
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    ['fd00:0:1::', 'fd00:0:1::'],
    ['1:0:1:0:1:0:1:0', '1:0:1:0:1:0:1:0'],
    ['::ffff:10.0.0.1', '::ffff:a00:1'],
    ['FD00::A', 'fd00::a'],
  ])('ipv6 %s prints as %s (RFC 5952)', (input, out) => {
    expect(canonicalIp(input)).toBe(out);
  });

  test('formatIp6 shortens the longest zero run, the leftmost on ties', () => {
    expect(formatIp6(Buffer.from('00010000000000010000000000000001', 'hex'), 0)).toBe('1:0:0:1::1');
    expect(formatIp6(Buffer.from('00010000000000010000000000010001', 'hex'), 0)).toBe('1::1:0:0:1:1');
  });

  test.each(['10.0.0', '10.0.0.256', '01.2.3.4', '1.2.3.4.5', 'fd00::1::2', 'fd00:12345::', 'hello', ''])('%s is not an address', (s) => {
    expect(isIpAddress(s)).toBe(false);
  });

  test('a bad prefix length is an encode error naming the value', () => {
    expect(() => encPrefix(Buffer.alloc(18), 0, '10.0.0.0/33')).toThrow(VppEncodeError);
    expect(() => encPrefix(Buffer.alloc(18), 0, '10.0.0.0/33')).toThrow(/10.0.0.0\/33/);
  });

  test('MAC addresses', () => {
    const b = Buffer.alloc(6);
    encMacAddress(b, 0, '02:FE:0d:00:00:01');
    expect(decMacAddress(b, { p: 0 })).toBe('02:fe:0d:00:00:01');
    expect(() => encMacAddress(b, 0, '02:fe:0d:00:00')).toThrow(/not a MAC address/);
  });
});
