import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RESOURCES, resourceForKind, resourceForPlural, groupVersions, qualifiedResource, groupVersionPath } from '../../api/resources.js';

test('every kind is unique and findable by kind and by plural', () => {
  const kinds = new Set<string>();
  for (const r of RESOURCES) {
    assert.not.ok(kinds.has(r.kind), `duplicate ${r.kind}`);
    kinds.add(r.kind);
    assert.is(resourceForKind(r.kind), r);
    assert.is(resourceForPlural(r.group, r.plural), r);
  }
});

test('cluster-scoped kinds are exactly Namespace, Node, PersistentVolume, StorageClass, ClusterRole and ClusterRoleBinding', () => {
  assert.equal(RESOURCES.filter((r) => !r.namespaced).map((r) => r.kind).sort(), ['ClusterRole', 'ClusterRoleBinding', 'Namespace', 'Node', 'PersistentVolume', 'StorageClass']);
});

test('names and paths follow Kubernetes conventions', () => {
  const deploy = resourceForKind('Deployment')!;
  assert.is(qualifiedResource(deploy), 'deployments.apps');
  assert.is(groupVersionPath(deploy), '/apis/apps/v1');
  assert.is(groupVersionPath(resourceForKind('Pod')!), '/api/v1');
  assert.equal(groupVersions()[0], { group: '', version: 'v1' });
});

test.run();
