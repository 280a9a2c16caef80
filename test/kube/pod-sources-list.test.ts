/**
 * What the pod sources list for the troubleshooting view: the pods file (YAML, with spec.hostNetwork)
 * and the informer's mapping of a V1Pod.
 */
import { podInfoOf } from '../../agent/kube/pod-source.js';
import { parsePodsFile } from '../../agent/pod-info/pods-file.js';

describe('pod sources list the node pods', () => {
  test('pods file: metadata and spec.hostNetwork; a non-boolean hostNetwork is refused', () => {
    const pods = parsePodsFile(
      [
        'apiVersion: v1',
        'kind: Pod',
        'metadata: {namespace: kube-system, name: proxy, uid: u1}',
        'spec: {hostNetwork: true, containers: [{name: c, image: x}]}',
        '---',
        'apiVersion: v1',
        'kind: Pod',
        'metadata: {name: web, annotations: {a: b}}',
        '',
      ].join('\n'),
    );
    expect(pods).toEqual([
      { namespace: 'kube-system', name: 'proxy', uid: 'u1', annotations: {}, hostNetwork: true },
      { namespace: 'default', name: 'web', annotations: { a: 'b' } },
    ]);
    expect(() => parsePodsFile('metadata: {name: x}\nspec: {hostNetwork: "yes"}\n')).toThrow(/hostNetwork/);
  });

  test('informer: hostNetwork from the pod spec, absent when false', () => {
    expect(podInfoOf({ metadata: { namespace: 'n', name: 'a', uid: 'u' }, spec: { hostNetwork: true, containers: [] } })).toEqual({ namespace: 'n', name: 'a', uid: 'u', annotations: {}, hostNetwork: true });
    expect(podInfoOf({ metadata: { namespace: 'n', name: 'b' }, spec: { hostNetwork: false, containers: [] } })).toEqual({ namespace: 'n', name: 'b', annotations: {} });
  });
});
