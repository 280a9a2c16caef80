/**
 * Regression tests for the fuzz campaign's findings on the pods file (issue 17, item 9): a bad value is
 * one line (and exit 2 at start), deep nesting is refused before the YAML parser sees it, and a parse is
 * bounded in time and runs off the event loop.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MAX_PODS_FILE_BYTES,
  MAX_PODS_FILE_NESTING,
  parsePodsFile,
  parsePodsFileAsync,
  PodsFileError,
  PodsFileSource,
  readPodsFile,
} from '../../agent/pod-info/pods-file.js';
import { until } from '../helpers/until.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vppcni-podsfile-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function errorOf(f: () => unknown): PodsFileError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PodsFileError);
    return e as PodsFileError;
  }
  throw new Error('accepted');
}

const EXPECTED = 'expected pod objects (metadata.name, metadata.namespace, metadata.annotations: string to string, spec.hostNetwork: boolean)';
// Malformed flow text: what took the YAML parser super-linear time.
const malformedFlow = (n: number): string => `- [${'a,\n b: {c}\n'.repeat(n)}`;

describe('9. pods file', () => {
  test('uid: 1234 is one line naming the document and the field', () => {
    const e = errorOf(() => parsePodsFile('metadata:\n  name: web\n  uid: 1234\n'));
    expect(e.message).toBe(`document 1: metadata.uid: Invalid input: expected string, received number; ${EXPECTED}`);
  });

  test('a bad item of a list names its index; a bad annotation key is refused', () => {
    expect(errorOf(() => parsePodsFile('items:\n- metadata: {name: a}\n- metadata: {name: 7}\n')).message).toBe(`document 1: items[1].metadata.name: Invalid input: expected string, received number; ${EXPECTED}`);
    expect(errorOf(() => parsePodsFile('metadata: {name: a, annotations: {__proto__: x}}\n')).message).toBe('document 1: a key "__proto__" is not accepted');
    expect(errorOf(() => parsePodsFile('metadata: {name: a, annotations: {"a b": x}}\n')).message).toBe(`document 1: metadata.annotations.a b: Invalid key in record; ${EXPECTED}`);
  });

  test('40 KB of nested [ is refused before the YAML parser sees it', () => {
    expect(errorOf(() => parsePodsFile('['.repeat(40_000))).message).toBe(`line 1: flow collections nested deeper than ${MAX_PODS_FILE_NESTING}`);
  });

  test('key: key: key: … is refused before the YAML parser sees it', () => {
    expect(errorOf(() => parsePodsFile(`${'key: '.repeat(20_000)}v\n`)).message).toBe(`line 1: more than ${MAX_PODS_FILE_NESTING} nested keys or items on one line`);
  });

  test('nesting indicators inside quotes and comments do not count', () => {
    const q = `metadata: {name: "${'[{'.repeat(100)}", annotations: {a: '${'x: '.repeat(100)}'}} # ${'[ - '.repeat(100)}\n`;
    expect(parsePodsFile(q)).toEqual([{ namespace: 'default', name: '[{'.repeat(100), annotations: { a: 'x: '.repeat(100) } }]);
  });

  test('a text over the size limit is refused unparsed; so is a file, without being read whole', () => {
    expect(errorOf(() => parsePodsFile(`# ${'x'.repeat(MAX_PODS_FILE_BYTES)}`)).message).toBe(`${MAX_PODS_FILE_BYTES + 2} characters, more than the ${MAX_PODS_FILE_BYTES} accepted`);
    const big = join(dir, 'big.yaml');
    writeFileSync(big, Buffer.alloc(MAX_PODS_FILE_BYTES + 1, 0x20));
    expect(errorOf(() => readPodsFile(big)).message).toBe(`${MAX_PODS_FILE_BYTES + 1} bytes, more than the ${MAX_PODS_FILE_BYTES} accepted`);
  });

  test('malformed flow text ends in a one-line error, and a parse past its deadline is stopped', async () => {
    const text = malformedFlow(6000); // 65 KiB
    const e = errorOf(() => parsePodsFile(text));
    expect(e.message).toMatch(/^(document 1: line \d+, column \d+: .*|not parsed within \d+ ms.*)$/);
    expect(e.message).not.toContain('\n');
    await expect(parsePodsFileAsync(text, 1)).rejects.toThrow(new PodsFileError('not parsed within 1 ms'));
  });

  test('a reload parses off the event loop: timers keep firing while it runs', async () => {
    let ticks = 0;
    const t = setInterval(() => ticks++, 1);
    try {
      await expect(parsePodsFileAsync(malformedFlow(6000))).rejects.toBeInstanceOf(PodsFileError);
    } finally {
      clearInterval(t);
    }
    expect(ticks).toBeGreaterThan(0);
  });

  test('a running source keeps its pods when the file turns bad, and takes a good one again', async () => {
    const path = join(dir, 'pods.yaml');
    writeFileSync(path, 'metadata: {name: a}\n');
    const warned: string[] = [];
    const src = new PodsFileSource(path, { info: () => undefined, warn: (o) => warned.push((o as { err: string }).err) });
    try {
      // The watcher reloads too; an explicit reload covers file systems without change events.
      writeFileSync(path, 'metadata: {name: a, uid: 12}\n');
      void src.reload();
      await until('the bad file to be reported', () => warned.length > 0);
      expect(new Set(warned)).toEqual(new Set([`document 1: metadata.uid: Invalid input: expected string, received number; ${EXPECTED}`]));
      expect(src.list().map((p) => p.name)).toEqual(['a']);
      writeFileSync(path, 'metadata: {name: b}\n');
      void src.reload();
      await until('the good file to be taken', () => src.list()[0]?.name === 'b');
    } finally {
      await src.close();
    }
  });

  test('the agent started with a bad pods file exits 2 with one line, no stack trace', async () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'metadata:\n  name: web\n  uid: 1234\n');
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'agent/main.ts', '--pods-file', path], { cwd: process.cwd(), timeout: 60_000 }, (err, _o, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
      );
    });
    expect(r).toEqual({ code: 2, stderr: `vpp-cni-agent: invalid configuration: pods file ${path}: document 1: metadata.uid: Invalid input: expected string, received number; ${EXPECTED}\n` });
  });

  test('a source created on a file too deep to parse names the file', () => {
    const path = join(dir, 'deep.yaml');
    writeFileSync(path, '{'.repeat(1000));
    expect(errorOf(() => new PodsFileSource(path, { info: () => undefined, warn: () => undefined })).message).toBe(`pods file ${path}: line 1: flow collections nested deeper than ${MAX_PODS_FILE_NESTING}`);
  });
});
