import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  SelectorError, parseLabelSelector, labelSelectorFromObject, selectorMatchesNothing, matchesLabels,
  labelSelectorToString, labelRequirementsToString, parseFieldSelector, matchesFields, fieldRequirementsToString,
} from '../../api/selectors.js';

const isSelectorError = (err: unknown): boolean => err instanceof SelectorError;

test('parses equality and set-based requirements', () => {
  assert.equal(parseLabelSelector('app=x,tier!=db,env in (a,b)'), [
    { key: 'app', operator: 'Equals', values: ['x'] },
    { key: 'tier', operator: 'NotEquals', values: ['db'] },
    { key: 'env', operator: 'In', values: ['a', 'b'] },
  ]);
  assert.equal(parseLabelSelector('app==x'), [{ key: 'app', operator: 'Equals', values: ['x'] }]);
  assert.equal(parseLabelSelector('env notin (prod)'), [{ key: 'env', operator: 'NotIn', values: ['prod'] }]);
  assert.equal(parseLabelSelector('canary,!legacy'), [
    { key: 'canary', operator: 'Exists', values: [] },
    { key: 'legacy', operator: 'DoesNotExist', values: [] },
  ]);
  assert.equal(parseLabelSelector('replicas>2,age<10'), [
    { key: 'replicas', operator: 'Gt', values: ['2'] },
    { key: 'age', operator: 'Lt', values: ['10'] },
  ]);
  assert.equal(parseLabelSelector('kubernetes.io/cluster-service=true'), [
    { key: 'kubernetes.io/cluster-service', operator: 'Equals', values: ['true'] },
  ]);
});

test('tolerates whitespace and empty values', () => {
  assert.equal(parseLabelSelector('  app = x ,  env  in  ( a , b )  , ! legacy '), [
    { key: 'app', operator: 'Equals', values: ['x'] },
    { key: 'env', operator: 'In', values: ['a', 'b'] },
    { key: 'legacy', operator: 'DoesNotExist', values: [] },
  ]);
  assert.equal(parseLabelSelector(''), []);
  assert.equal(parseLabelSelector('   '), []);
  assert.equal(parseLabelSelector('app='), [{ key: 'app', operator: 'Equals', values: [''] }]);
  assert.equal(parseLabelSelector('app in ()'), [{ key: 'app', operator: 'In', values: [''] }]);
  assert.equal(parseLabelSelector('app in (a,,b)'), [{ key: 'app', operator: 'In', values: ['a', '', 'b'] }]);
});

test('rejects malformed label selectors with clear messages', () => {
  const bad = [
    'app=x,', ',app', 'app in a', 'app in (a', 'app in (a b)', '!app=x', 'app x', 'app=(x)', '=x',
    'app=-bad-', 'bad key=x', '-app=x', 'a/b/c=x', 'app=' + 'v'.repeat(64), 'x>abc', 'app notin',
  ];
  for (const text of bad) assert.throws(() => parseLabelSelector(text), isSelectorError, text);
  try {
    parseLabelSelector('app=-bad-');
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.instance(err, SelectorError);
    assert.match((err as Error).message, /^unable to parse requirement: /);
  }
  try {
    parseLabelSelector('app x');
    assert.unreachable('should have thrown');
  } catch (err) {
    assert.match((err as Error).message, "found 'x', expected: in, notin, =, ==, !=, gt, lt");
  }
});

test('matchesLabels applies each operator', () => {
  const labels = { app: 'web', tier: 'front', replicas: '3' };
  const m = (text: string, l: Record<string, string> | undefined = labels): boolean => matchesLabels(parseLabelSelector(text), l);
  assert.ok(m(''));
  assert.ok(m('app=web'));
  assert.not.ok(m('app=db'));
  assert.ok(m('app!=db'));
  assert.ok(m('missing!=x'), '!= matches when the label is absent');
  assert.ok(m('tier in (front,back)'));
  assert.not.ok(m('tier in (back)'));
  assert.not.ok(m('missing in (x)'));
  assert.ok(m('missing notin (x)'));
  assert.not.ok(m('tier notin (front)'));
  assert.ok(m('app'));
  assert.not.ok(m('missing'));
  assert.ok(m('!missing'));
  assert.not.ok(m('!app'));
  assert.ok(m('replicas>2'));
  assert.not.ok(m('replicas>3'));
  assert.ok(m('replicas<4'));
  assert.not.ok(m('app>1'), 'non-integer label values never satisfy Gt');
  assert.ok(m('app=web,tier=front'));
  assert.not.ok(m('app=web,tier=back'));
  assert.not.ok(matchesLabels(parseLabelSelector('app=web'), undefined));
  assert.ok(matchesLabels(parseLabelSelector('!app'), undefined));
  assert.ok(matchesLabels(parseLabelSelector('app!=web'), undefined));
});

test('labelSelectorFromObject merges matchLabels and matchExpressions', () => {
  const reqs = labelSelectorFromObject({
    matchLabels: { app: 'web' },
    matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }, { key: 'legacy', operator: 'DoesNotExist' }],
  });
  assert.equal(reqs, [
    { key: 'app', operator: 'Equals', values: ['web'] },
    { key: 'tier', operator: 'In', values: ['a', 'b'] },
    { key: 'legacy', operator: 'DoesNotExist', values: [] },
  ]);
  assert.ok(matchesLabels(reqs, { app: 'web', tier: 'b' }));
  assert.not.ok(matchesLabels(reqs, { app: 'web', tier: 'b', legacy: 'y' }));
  assert.equal(labelSelectorFromObject(undefined), []);
  assert.equal(labelSelectorFromObject({}), []);
  assert.throws(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }), isSelectorError);
  assert.throws(() => labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }), isSelectorError);
  assert.throws(() => labelSelectorFromObject({ matchLabels: { 'bad key': 'x' } }), isSelectorError);
  const untyped = JSON.parse('{"matchLabels":{"app":5}}') as Parameters<typeof labelSelectorFromObject>[0];
  assert.throws(() => labelSelectorFromObject(untyped), isSelectorError);
  const badOperator = JSON.parse('{"matchExpressions":[{"key":"a","operator":"Equals","values":["x"]}]}') as Parameters<typeof labelSelectorFromObject>[0];
  assert.throws(() => labelSelectorFromObject(badOperator), isSelectorError);
});

test('null selector selects nothing; empty selector selects everything', () => {
  assert.ok(selectorMatchesNothing(undefined));
  assert.ok(selectorMatchesNothing(null));
  assert.not.ok(selectorMatchesNothing({}));
  assert.ok(matchesLabels(labelSelectorFromObject({}), { any: 'thing' }));
});

test('labelSelectorToString prints like FormatLabelSelector', () => {
  assert.is(labelSelectorToString({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['b', 'a'] }] }),
    'app=web,tier in (a,b)');
  assert.is(labelSelectorToString({ matchLabels: { z: '1', a: '2' } }), 'a=2,z=1');
  assert.is(labelSelectorToString({ matchExpressions: [{ key: 'x', operator: 'Exists' }, { key: 'y', operator: 'DoesNotExist' }, { key: 'w', operator: 'NotIn', values: ['q'] }] }),
    'w notin (q),x,!y');
  assert.is(labelSelectorToString({}), '<none>');
  assert.is(labelSelectorToString(undefined), '<none>');
  assert.is(labelSelectorToString({ matchLabels: { 'bad key': 'x' } }), '<error>');
  assert.is(labelRequirementsToString(parseLabelSelector('b!=1,a>2,c')), 'a>2,b!=1,c');
});

test('parses field selectors', () => {
  assert.equal(parseFieldSelector('spec.nodeName=node-1,status.phase!=Succeeded,status.phase!=Failed'), [
    { path: 'spec.nodeName', operator: '=', value: 'node-1' },
    { path: 'status.phase', operator: '!=', value: 'Succeeded' },
    { path: 'status.phase', operator: '!=', value: 'Failed' },
  ]);
  assert.equal(parseFieldSelector('metadata.name==x'), [{ path: 'metadata.name', operator: '=', value: 'x' }]);
  assert.equal(parseFieldSelector('involvedObject.namespace=,involvedObject.uid=node-1'), [
    { path: 'involvedObject.namespace', operator: '=', value: '' },
    { path: 'involvedObject.uid', operator: '=', value: 'node-1' },
  ]);
  assert.equal(parseFieldSelector('metadata.name=a\\,b\\=c\\\\d'), [{ path: 'metadata.name', operator: '=', value: 'a,b=c\\d' }]);
  assert.equal(parseFieldSelector(''), []);
  assert.throws(() => parseFieldSelector('metadata.name'), isSelectorError);
  assert.throws(() => parseFieldSelector('=x'), isSelectorError);
  assert.throws(() => parseFieldSelector('a=b=c'), isSelectorError);
  assert.throws(() => parseFieldSelector('a=b\\x'), isSelectorError);
});

test('matchesFields uses dotted paths; missing paths compare as empty', () => {
  const event = {
    type: 'Warning',
    metadata: { name: 'e1', namespace: 'default' },
    involvedObject: { kind: 'Pod', name: 'p', namespace: 'default', uid: 'u-1', apiVersion: 'v1' },
  };
  const m = (text: string, obj: unknown = event): boolean => matchesFields(parseFieldSelector(text), obj);
  assert.ok(m('involvedObject.name=p,involvedObject.namespace=default,involvedObject.uid=u-1'));
  assert.ok(m('involvedObject.kind=Pod,involvedObject.apiVersion=v1'));
  assert.not.ok(m('involvedObject.uid=other'));
  assert.ok(m('type=Warning'));
  assert.ok(m('type!=Normal'));
  assert.ok(m('spec.nodeName='), 'missing path equals empty');
  assert.not.ok(m('spec.nodeName!='));
  const pod = { metadata: { name: 'p' }, spec: { nodeName: 'node-1', priority: 5 }, status: { phase: 'Running' } };
  assert.ok(m('spec.nodeName=node-1,status.phase!=Succeeded,status.phase!=Failed', pod));
  assert.not.ok(m('spec.nodeName=node-2', pod));
  assert.ok(m('spec.priority=5', pod));
  assert.ok(m('', pod));
});

test('fieldRequirementsToString round-trips escapes', () => {
  const reqs = parseFieldSelector('metadata.name=a\\,b,status.phase!=x');
  assert.is(fieldRequirementsToString(reqs), 'metadata.name=a\\,b,status.phase!=x');
  assert.equal(parseFieldSelector(fieldRequirementsToString(reqs)), reqs);
});

test.run();
