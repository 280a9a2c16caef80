/** The committed bindings are exactly what the generator makes from ../shared/vpp-api. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { generate, readVppVersion } from '../../vpp-api/generator/generate.js';
import { API_JSON_DIR, describeWithShared, haveApiJson } from '../helpers/golden.js';

const GENERATED = join(process.cwd(), 'vpp-api', 'generated');

describeWithShared('generator', API_JSON_DIR, "VPP's .api.json files")('generator', () => {
  const fresh = haveApiJson ? generate(API_JSON_DIR) : new Map<string, string>();

  test('committed vpp-api/generated equals a fresh generation', () => {
    const committed = readdirSync(GENERATED).filter((f) => f.endsWith('.ts')).sort();
    expect(committed).toEqual([...fresh.keys()].sort());
    for (const [name, text] of fresh) expect({ name, same: readFileSync(join(GENERATED, name), 'utf8') === text }).toEqual({ name, same: true });
  });

  test('every module header names its source file and the VPP version', () => {
    const version = readVppVersion(API_JSON_DIR);
    expect(version).toMatch(/^vpp v\d+\.\d+/);
    for (const [name, text] of fresh) {
      if (name === 'index.ts') continue;
      expect(text).toContain(`// VPP: ${version}`);
      expect(text).toMatch(/\/\/ Source: (core|plugins)\/[a-z0-9_]+\.api\.json/);
      expect(text).toContain('DO NOT EDIT');
    }
  });
});
