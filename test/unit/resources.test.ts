import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RESOURCES, STORED_RESOURCES, resourceForKind, resourceForPlural, groupVersions, qualifiedResource, groupVersionPath, verbsOf } from '../../api/resources.js';

test('every kind is unique and findable by kind and by plural; an alias is found by plural only', () => {
  const kinds = new Set<string>();
  for (const r of RESOURCES) {
    assert.is(resourceForPlural(r.group, r.plural), r);
    if (r.alias) continue;
    assert.not.ok(kinds.has(r.kind), `duplicate ${r.kind}`);
    kinds.add(r.kind);
    assert.is(resourceForKind(r.kind), r);
  }
  const aliases = RESOURCES.filter((r) => r.alias);
  assert.equal(aliases.map((r) => `${r.group}/${r.kind}`), ['events.k8s.io/Event']);
  assert.is(resourceForKind('Event')!.group, '', 'the core Event stays what kind lookups find');
  assert.not.ok(STORED_RESOURCES.some((r) => r.alias), 'aliases are not stored on their own');
});

test('stored cluster-scoped kinds are exactly Namespace, Node, PersistentVolume, StorageClass, PriorityClass, RuntimeClass, IngressClass, ClusterRole and ClusterRoleBinding', () => {
  assert.equal(STORED_RESOURCES.filter((r) => !r.namespaced).map((r) => r.kind).sort(), [
    'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'IngressClass', 'MutatingWebhookConfiguration', 'Namespace', 'Node', 'PersistentVolume', 'PriorityClass', 'RuntimeClass',
    'StorageClass', 'ValidatingWebhookConfiguration',
  ]);
});

test('the review kinds are create-only and never stored', () => {
  const requestKinds = RESOURCES.filter((r) => r.createOnly).map((r) => r.kind).sort();
  assert.equal(requestKinds, ['LocalSubjectAccessReview', 'SelfSubjectAccessReview', 'SelfSubjectReview', 'SelfSubjectRulesReview', 'SubjectAccessReview', 'TokenReview']);
  assert.ok(STORED_RESOURCES.every((r) => !r.createOnly));
  assert.equal(verbsOf(resourceForKind('TokenReview')!), ['create']);
});

test('names and paths follow Kubernetes conventions', () => {
  const deploy = resourceForKind('Deployment')!;
  assert.is(qualifiedResource(deploy), 'deployments.apps');
  assert.is(groupVersionPath(deploy), '/apis/apps/v1');
  assert.is(groupVersionPath(resourceForKind('Pod')!), '/api/v1');
  assert.equal(groupVersions()[0], { group: '', version: 'v1' });
});

test.run();
