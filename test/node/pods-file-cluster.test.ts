/**
 * Cluster objects in a pods file (no Kubernetes): a document with `nodes`, `services`, `endpointSlices` (and
 * optionally `items` of pods) is read next to the pods; the lists are bounded; each object then passes the same
 * schemas as the API server's (StaticCluster), an invalid one left out with a log line; a re-read replaces them
 * and signals a full recompute.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_CLUSTER_OBJECTS, PodsFileError, PodsFileSource, parsePodsFileContents } from '../../agent/pod-info/pods-file.js';
import { StaticCluster } from '../../agent/node/static-cluster.js';
import { until } from '../helpers/until.js';

const FILE = `
items:
- metadata: {name: web-0, namespace: default}
nodes:
- metadata: {name: a}
  spec: {podCIDR: 10.244.0.0/24}
  status: {addresses: [{type: InternalIP, address: 192.168.1.1}]}
- metadata: {name: broken}
  spec: {podCIDRs: 7}
services:
- metadata: {name: web, namespace: default}
  spec: {clusterIP: 10.96.0.20, ports: [{name: http, port: 80}]}
endpointSlices:
- metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
  addressType: IPv4
  ports: [{name: http, port: 8080}]
  endpoints: [{addresses: [10.244.0.5]}]
---
metadata: {name: db-0}
`;

test('pods and cluster lists of one file; a file without cluster lists has none', () => {
  const c = parsePodsFileContents(FILE);
  expect(c.pods.map((p) => `${p.namespace}/${p.name}`)).toEqual(['default/web-0', 'default/db-0']);
  expect(c.cluster).toMatchObject({ nodes: [{ metadata: { name: 'a' } }, { metadata: { name: 'broken' } }], services: [{ metadata: { name: 'web' } }], endpointSlices: [{ metadata: { name: 'web-1' } }] });
  expect(parsePodsFileContents('metadata: {name: x}\n').cluster).toBeUndefined();
});

test('a cluster list that is not a list, or too long, is refused with the document and the field', () => {
  expect(() => parsePodsFileContents('nodes: 7\n')).toThrow(PodsFileError);
  expect(() => parsePodsFileContents('nodes: 7\n')).toThrow(/^document 1: nodes: .*expected lists of at most 10000 objects/);
  const many = `nodes: [${Array.from({ length: MAX_CLUSTER_OBJECTS + 1 }, () => '{}').join(',')}]\n`;
  expect(() => parsePodsFileContents(many)).toThrow(/^document 1: nodes: /);
});

test('StaticCluster validates each object with the Kubernetes schemas; an invalid one is left out and logged', () => {
  const warn = jest.fn();
  const c = new StaticCluster({ warn }, parsePodsFileContents(FILE).cluster);
  expect(c.nodes().map((n) => n.metadata.name)).toEqual(['a']);
  expect(c.services().map((s) => s.metadata.name)).toEqual(['web']);
  expect(c.slices().map((s) => s.metadata.name)).toEqual(['web-1']);
  expect(warn).toHaveBeenCalledWith({ err: expect.stringMatching(/^Node broken: spec\.podCIDRs: /) }, expect.stringMatching(/^Node left out: Node broken/));
  const seen: string[] = [];
  c.onChange((ch) => seen.push(`${ch.what} ${ch.kind}`));
  c.set(undefined);
  expect(c.nodes()).toEqual([]);
  expect(seen).toEqual(['node relist']);
});

test('a re-read pods file hands its new cluster lists to the listener', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vcni-podsfile-cluster-'));
  try {
    const path = join(dir, 'pods.yaml');
    writeFileSync(path, FILE);
    const src = new PodsFileSource(path, { info: () => undefined, warn: () => undefined });
    const cluster = new StaticCluster({ warn: () => undefined }, src.cluster());
    src.onClusterChange((c) => cluster.set(c));
    expect(cluster.nodes().map((n) => n.metadata.name)).toEqual(['a']);
    writeFileSync(path, FILE.replace('name: a}', 'name: a2}'));
    await src.reload();
    await until('new node list', () => cluster.nodes()[0]?.metadata.name === 'a2');
    await src.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
