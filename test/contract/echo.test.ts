/** Values from outside quoted for error messages: escaped, cut, never able to forge a line or hide text. */
import { echo } from '../../contract/echo.js';

describe('echo', () => {
  test.each([
    ['plain', 'eth0', '"eth0"'],
    ['newline and tab', 'a\nb\tc', '"a\\nb\\tc"'],
    ['ESC and NUL', '\u001b[31mred\u0000', '"\\u001b[31mred\\u0000"'],
    ['quotes and backslash', 'say "hi" \\', '"say \\"hi\\" \\\\"'],
    ['DEL, C1 and bidi override', 'a\u007fb\u0085c\u202ed', '"a\\u007fb\\u0085c\\u202ed"'],
    ['a number', 42, '42'],
  ])('%s', (_n, value, out) => {
    expect(echo(value)).toBe(out);
  });

  test('cut to a readable length, saying how long it was (characters, not UTF-16 units)', () => {
    expect(echo('x'.repeat(100))).toBe(`"${'x'.repeat(64)}…" (100 characters)`);
    expect(echo('é'.repeat(10), 4)).toBe('"éééé…" (10 characters)');
    expect(echo('😀'.repeat(3), 2)).toBe('"😀😀…" (3 characters)');
  });
});
