import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PatchError } from '../../api/patch/errors.js';
import { applyMergePatch } from '../../api/patch/merge-patch.js';
import { applyJsonPatch, parseJsonPointer } from '../../api/patch/json-patch.js';
import { applyStrategicMergePatch, stripPatchDirectives } from '../../api/patch/strategic-merge-patch.js';

/** Freezes a value recursively, so any mutation by the code under test throws (ESM is strict mode). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

function expectPatchError(fn: () => unknown, message: RegExp, reason: 'BadRequest' | 'Conflict' = 'BadRequest'): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, PatchError);
    assert.match((err as PatchError).message, message);
    assert.is((err as PatchError).reason, reason);
    assert.is((err as PatchError).code, reason === 'Conflict' ? 409 : 400);
    return;
  }
  assert.unreachable('expected a PatchError');
}

/** Every key anywhere in a JSON value. */
function allKeys(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(allKeys);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, item]) => [key, ...allKeys(item)]);
  }
  return [];
}

// -------------------------------------------------------------------------------------------
const merge = suite('merge patch (RFC 7386)');

merge('RFC 7386 appendix A examples', () => {
  const cases: Array<[unknown, unknown, unknown]> = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, expected] of cases) {
    assert.equal(applyMergePatch(deepFreeze(target), deepFreeze(patch)), expected, JSON.stringify([target, patch]));
  }
});

merge('label and scale patches as kubectl sends them', () => {
  const cm = deepFreeze({ metadata: { name: 'x', labels: { a: '1', b: '2' } }, spec: { replicas: 1 } });
  assert.equal(applyMergePatch(cm, { metadata: { labels: { b: null, c: '3' } } }), {
    metadata: { name: 'x', labels: { a: '1', c: '3' } }, spec: { replicas: 1 },
  });
  assert.equal(applyMergePatch(cm, { spec: { replicas: 3 } }), { metadata: cm.metadata, spec: { replicas: 3 } });
});

merge('result shares nothing with inputs', () => {
  const target = { a: { b: 1 }, keep: { deep: [1] } };
  const patch = { c: { d: [1, 2] } };
  const result = applyMergePatch(target, patch) as { a: { b: number }; keep: { deep: number[] }; c: { d: number[] } };
  result.a.b = 99;
  result.keep.deep.push(2);
  result.c.d.push(3);
  assert.equal(target, { a: { b: 1 }, keep: { deep: [1] } });
  assert.equal(patch, { c: { d: [1, 2] } });
});

merge('a "__proto__" key is data, not a prototype', () => {
  const patch = JSON.parse('{"__proto__":{"polluted":true}}') as unknown;
  const result = applyMergePatch({}, patch) as Record<string, unknown>;
  assert.ok(Object.prototype.hasOwnProperty.call(result, '__proto__'));
  assert.is(({} as Record<string, unknown>)['polluted'], undefined);
  assert.is(Object.getPrototypeOf(result), Object.prototype);
});

merge('missing body is an error', () => {
  expectPatchError(() => applyMergePatch({}, undefined), /missing/);
});

merge.run();

// -------------------------------------------------------------------------------------------
const json = suite('json patch (RFC 6902)');

json('RFC 6902 appendix A examples', () => {
  const ok: Array<[unknown, unknown, unknown]> = [
    [{ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }], { baz: 'qux', foo: 'bar' }],
    [{ foo: ['bar', 'baz'] }, [{ op: 'add', path: '/foo/1', value: 'qux' }], { foo: ['bar', 'qux', 'baz'] }],
    [{ baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }], { foo: 'bar' }],
    [{ foo: ['bar', 'qux', 'baz'] }, [{ op: 'remove', path: '/foo/1' }], { foo: ['bar', 'baz'] }],
    [{ baz: 'qux', foo: 'bar' }, [{ op: 'replace', path: '/baz', value: 'boo' }], { baz: 'boo', foo: 'bar' }],
    [
      { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } },
      [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }],
      { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } },
    ],
    [{ foo: ['all', 'grass', 'cows', 'eat'] }, [{ op: 'move', from: '/foo/1', path: '/foo/3' }], { foo: ['all', 'cows', 'eat', 'grass'] }],
    [
      { baz: 'qux', foo: ['a', 2, 'c'] },
      [{ op: 'test', path: '/baz', value: 'qux' }, { op: 'test', path: '/foo/1', value: 2 }],
      { baz: 'qux', foo: ['a', 2, 'c'] },
    ],
    [{ foo: 'bar' }, [{ op: 'add', path: '/child', value: { grandchild: {} } }], { foo: 'bar', child: { grandchild: {} } }],
    [{ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux', xyz: 123 }], { foo: 'bar', baz: 'qux' }],
    [{ '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: 10 }], { '/': 9, '~1': 10 }],
    [{ foo: ['bar'] }, [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }], { foo: ['bar', ['abc', 'def']] }],
  ];
  for (const [target, ops, expected] of ok) {
    assert.equal(applyJsonPatch(deepFreeze(target), deepFreeze(ops)), expected, JSON.stringify(ops));
  }
});

json('RFC 6902 appendix A error examples', () => {
  expectPatchError(() => applyJsonPatch({ baz: 'qux' }, [{ op: 'test', path: '/baz', value: 'bar' }]), /test operation at "\/baz" failed/, 'Conflict');
  expectPatchError(() => applyJsonPatch({ foo: 'bar' }, [{ op: 'add', path: '/baz/bat', value: 'qux' }]), /add operation at "\/baz\/bat" failed/);
  expectPatchError(() => applyJsonPatch({ '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: '10' }]), /test operation/, 'Conflict');
});

json('root, escapes, copy, "-" index and whole-document operations', () => {
  assert.equal(applyJsonPatch({ a: 1 }, [{ op: 'replace', path: '', value: { b: 2 } }]), { b: 2 });
  assert.equal(applyJsonPatch({ a: 1 }, [{ op: 'add', path: '', value: [1] }]), [1]);
  assert.equal(applyJsonPatch({ 'a/b': { 'c~d': 1 } }, [{ op: 'replace', path: '/a~1b/c~0d', value: 2 }]), { 'a/b': { 'c~d': 2 } });
  const copied = applyJsonPatch({ a: { x: [1] } }, [{ op: 'copy', from: '/a', path: '/b' }]) as { a: { x: number[] }; b: { x: number[] } };
  copied.b.x.push(2);
  assert.equal(copied.a.x, [1], 'copy must not alias');
  assert.equal(applyJsonPatch({ l: [1, 2] }, [{ op: 'add', path: '/l/-', value: 3 }, { op: 'add', path: '/l/0', value: 0 }]), { l: [0, 1, 2, 3] });
  assert.equal(applyJsonPatch({ l: [1] }, [{ op: 'add', path: '/l/1', value: 2 }]), { l: [1, 2] });
  assert.equal(applyJsonPatch({ a: 1 }, [{ op: 'move', from: '/a', path: '/a' }]), { a: 1 });
  assert.equal(applyJsonPatch({ a: null }, [{ op: 'test', path: '/a', value: null }]), { a: null });
  assert.equal(applyJsonPatch({ a: { x: 1, y: [1] } }, [{ op: 'test', path: '/a', value: { y: [1], x: 1 } }]), { a: { x: 1, y: [1] } });
});

json('rollout undo style patch replaces template and annotations', () => {
  const deployment = deepFreeze({
    metadata: { name: 'web', annotations: { 'deployment.kubernetes.io/revision': '2' } },
    spec: { replicas: 2, template: { spec: { containers: [{ name: 'web', image: 'nginx:2' }] } } },
  });
  const result = applyJsonPatch(deployment, [
    { op: 'replace', path: '/spec/template', value: { spec: { containers: [{ name: 'web', image: 'nginx:1' }] } } },
    { op: 'replace', path: '/metadata/annotations', value: { 'deployment.kubernetes.io/revision': '3' } },
  ]);
  assert.equal(result, {
    metadata: { name: 'web', annotations: { 'deployment.kubernetes.io/revision': '3' } },
    spec: { replicas: 2, template: { spec: { containers: [{ name: 'web', image: 'nginx:1' }] } } },
  });
});

json('malformed patches and failed operations name the op and path', () => {
  expectPatchError(() => applyJsonPatch({}, { op: 'add' }), /must be an array/);
  expectPatchError(() => applyJsonPatch({}, [{ op: 'frob', path: '/a' }]), /unknown op "frob"/);
  expectPatchError(() => applyJsonPatch({}, [{ op: 'add', path: '/a' }]), /add operation at "\/a": missing "value"/);
  expectPatchError(() => applyJsonPatch({}, [{ op: 'add', value: 1 }]), /missing string "path"/);
  expectPatchError(() => applyJsonPatch({}, [{ op: 'move', path: '/a' }]), /missing string "from"/);
  expectPatchError(() => applyJsonPatch({}, ['nope']), /not an object/);
  expectPatchError(() => applyJsonPatch({ a: 1 }, [{ op: 'remove', path: '/b' }]), /remove operation at "\/b" failed/);
  expectPatchError(() => applyJsonPatch({ a: 1 }, [{ op: 'replace', path: '/b', value: 1 }]), /replace operation at "\/b" failed/);
  expectPatchError(() => applyJsonPatch({ l: [1] }, [{ op: 'add', path: '/l/01', value: 1 }]), /not a valid array index/);
  expectPatchError(() => applyJsonPatch({ l: [1] }, [{ op: 'add', path: '/l/3', value: 1 }]), /out of bounds/);
  expectPatchError(() => applyJsonPatch({ l: [1] }, [{ op: 'remove', path: '/l/1' }]), /out of bounds/);
  expectPatchError(() => applyJsonPatch({ l: [1] }, [{ op: 'remove', path: '/l/-' }]), /not a valid array index/);
  expectPatchError(() => applyJsonPatch({ a: { b: 1 } }, [{ op: 'move', from: '/a', path: '/a/b/c' }]), /move operation from "\/a" to "\/a\/b\/c" failed: cannot move/);
  expectPatchError(() => applyJsonPatch({ a: 1 }, [{ op: 'add', path: 'a', value: 1 }]), /must start with '\/'/);
  expectPatchError(() => applyJsonPatch({ a: 1 }, [{ op: 'add', path: '/a~2', value: 1 }]), /invalid '~' escape/);
  expectPatchError(() => applyJsonPatch({ a: 1 }, [{ op: 'remove', path: '' }]), /whole document/);
  expectPatchError(() => applyJsonPatch({ a: 'x' }, [{ op: 'add', path: '/a/b', value: 1 }]), /not an object or array/);
});

json('a failed op leaves the target untouched (operations are all-or-nothing)', () => {
  const target = { a: 1, l: [1] };
  expectPatchError(() => applyJsonPatch(target, [{ op: 'add', path: '/b', value: 2 }, { op: 'remove', path: '/zzz' }]), /remove/);
  assert.equal(target, { a: 1, l: [1] });
});

json('parseJsonPointer unescapes ~1 before ~0', () => {
  assert.equal(parseJsonPointer(''), []);
  assert.equal(parseJsonPointer('/'), ['']);
  assert.equal(parseJsonPointer('/a~1b/~01/m~0n'), ['a/b', '~1', 'm~n']);
});

json('copies that double the document are refused before they exhaust the server', () => {
  const doc = { a: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i])) };
  const ops = Array.from({ length: 200 }, (_, i) => ({ op: 'copy', from: '', path: `/c${i}` }));
  const started = Date.now();
  assert.throws(() => applyJsonPatch(doc, ops), (err: Error) => err instanceof PatchError && /copies more than/.test(err.message));
  assert.ok(Date.now() - started < 2000, 'refused quickly');
  // Ordinary copies still work.
  assert.equal(applyJsonPatch({ a: { b: 1 } }, [{ op: 'copy', from: '/a', path: '/c' }]), { a: { b: 1 }, c: { b: 1 } });
});

json.run();

// -------------------------------------------------------------------------------------------
const smp = suite('strategic merge patch');

/** The live Deployment the kubectl-wire.md example patch is applied to. */
function liveDeployment(): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' }, finalizers: ['example.com/a', 'example.com/b'] },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'nginx', image: 'nginx:1.25', env: [{ name: 'A', value: '1' }],
              ports: [{ containerPort: 80, protocol: 'TCP' }], args: ['--x'],
            },
            { name: 'sidecar', image: 'busybox' },
          ],
          volumes: [{ name: 'data', emptyDir: {} }, { name: 'cache', emptyDir: { medium: 'Memory' } }],
          tolerations: [{ key: 'a', operator: 'Exists' }],
        },
      },
    },
  };
}

const wireExamplePatch = {
  metadata: { '$deleteFromPrimitiveList/finalizers': ['example.com/a'] },
  spec: {
    strategy: { $retainKeys: ['type'], type: 'Recreate' },
    template: {
      spec: {
        '$setElementOrder/containers': [{ name: 'nginx' }],
        containers: [
          {
            name: 'nginx', image: 'nginx:1.27', env: null,
            '$setElementOrder/ports': [{ containerPort: 8080 }],
            ports: [{ containerPort: 8080 }, { $patch: 'delete', containerPort: 80 }],
          },
          { $patch: 'delete', name: 'sidecar' },
        ],
        volumes: [{ $retainKeys: ['hostPath', 'name'], emptyDir: null, hostPath: { path: '/tmp' }, name: 'data' }],
      },
    },
  },
};

smp('kubectl-wire.md example, checked field by field', () => {
  const live = deepFreeze(liveDeployment());
  const patch = deepFreeze(structuredClone(wireExamplePatch));
  const result = applyStrategicMergePatch(live, patch) as ReturnType<typeof liveDeployment> & any;

  // $deleteFromPrimitiveList removed one finalizer, kept the other.
  assert.equal(result.metadata.finalizers, ['example.com/b']);
  assert.equal(result.metadata.labels, { app: 'web' });
  assert.is(result.metadata.name, 'web');
  // $retainKeys dropped rollingUpdate.
  assert.equal(result.spec.strategy, { type: 'Recreate' });
  assert.is(result.spec.replicas, 2);
  assert.equal(result.spec.selector, { matchLabels: { app: 'web' } });
  // Containers: sidecar deleted, nginx merged.
  const containers = result.spec.template.spec.containers;
  assert.is(containers.length, 1);
  const nginx = containers[0];
  assert.is(nginx.name, 'nginx');
  assert.is(nginx.image, 'nginx:1.27');
  assert.not.ok('env' in nginx, 'env: null deletes env');
  assert.equal(nginx.args, ['--x'], 'untouched fields stay');
  // Ports merged by containerPort: 80 deleted, 8080 added.
  assert.equal(nginx.ports, [{ containerPort: 8080 }]);
  // Volumes merged by name; $retainKeys on the element dropped emptyDir.
  assert.equal(result.spec.template.spec.volumes, [
    { name: 'data', hostPath: { path: '/tmp' } },
    { name: 'cache', emptyDir: { medium: 'Memory' } },
  ]);
  assert.equal(result.spec.template.spec.tolerations, [{ key: 'a', operator: 'Exists' }]);
  assert.equal(result.spec.template.metadata, { labels: { app: 'web' } });
  // No directive survives.
  assert.equal(allKeys(result).filter((key) => key.startsWith('$')), []);
  // Inputs untouched (they are frozen, and still equal to fresh copies).
  assert.equal(live, liveDeployment());
  assert.equal(patch, wireExamplePatch);
});

smp('maps merge recursively and null deletes', () => {
  const target = deepFreeze({ metadata: { name: 'n', annotations: { a: '1', b: '2' } }, spec: { unschedulable: true, podCIDR: '10.0.0.0/24' } });
  assert.equal(applyStrategicMergePatch(target, { metadata: { annotations: { a: null, c: '3' } }, spec: { unschedulable: null } }), {
    metadata: { name: 'n', annotations: { b: '2', c: '3' } }, spec: { podCIDR: '10.0.0.0/24' },
  });
  // cordon / uncordon
  const node = deepFreeze({ metadata: { name: 'node-1' }, spec: {} });
  const cordoned = applyStrategicMergePatch(node, { spec: { unschedulable: true } });
  assert.equal(cordoned, { metadata: { name: 'node-1' }, spec: { unschedulable: true } });
  assert.equal(applyStrategicMergePatch(cordoned, { spec: { unschedulable: null } }), node);
  // Nulls for absent keys are ignored, also in new subtrees.
  assert.equal(applyStrategicMergePatch({}, { a: { b: null, c: 1 }, d: null }), { a: { c: 1 } });
});

smp('rollout restart and set image', () => {
  const live = deepFreeze(liveDeployment());
  const restarted = applyStrategicMergePatch(live, {
    spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-01-01T00:00:00Z' } } } },
  }) as any;
  assert.equal(restarted.spec.template.metadata, { labels: { app: 'web' }, annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-01-01T00:00:00Z' } });
  assert.is(restarted.spec.template.spec.containers.length, 2);
  const updated = applyStrategicMergePatch(live, { spec: { template: { spec: { containers: [{ name: 'sidecar', image: 'busybox:2' }] } } } }) as any;
  assert.equal(updated.spec.template.spec.containers.map((c: any) => [c.name, c.image]), [['nginx', 'nginx:1.25'], ['sidecar', 'busybox:2']]);
  assert.equal(updated.spec.template.spec.containers[0].env, [{ name: 'A', value: '1' }]);
});

smp('keyed lists add, merge and delete elements; env by name', () => {
  const pod = deepFreeze({
    spec: { containers: [{ name: 'c', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] }] },
  });
  const result = applyStrategicMergePatch(pod, {
    spec: { containers: [{ name: 'c', env: [{ name: 'B', value: '3' }, { name: 'C', value: '4' }, { name: 'A', $patch: 'delete' }] }] },
  }) as any;
  assert.equal(result.spec.containers[0].env, [{ name: 'B', value: '3' }, { name: 'C', value: '4' }]);
  const added = applyStrategicMergePatch(pod, { spec: { initContainers: [{ name: 'init', image: 'x', env: [{ name: 'Z', value: '1' }] }] } }) as any;
  assert.equal(added.spec.initContainers, [{ name: 'init', image: 'x', env: [{ name: 'Z', value: '1' }] }]);
});

smp('{"$patch":"replace"} element replaces the whole list', () => {
  const pod = deepFreeze({ spec: { containers: [{ name: 'a', image: 'a' }, { name: 'b', image: 'b' }] } });
  const result = applyStrategicMergePatch(pod, { spec: { containers: [{ name: 'c', image: 'c' }, { $patch: 'replace' }] } });
  assert.equal(result, { spec: { containers: [{ name: 'c', image: 'c' }] } });
});

smp('map-level $patch replace and delete', () => {
  const target = deepFreeze({ spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } }, replicas: 1 } });
  assert.equal(applyStrategicMergePatch(target, { spec: { strategy: { $patch: 'replace', type: 'Recreate' } } }), {
    spec: { strategy: { type: 'Recreate' }, replicas: 1 },
  });
  assert.equal(applyStrategicMergePatch(target, { spec: { strategy: { rollingUpdate: { $patch: 'delete' } } } }), {
    spec: { strategy: { type: 'RollingUpdate' }, replicas: 1 },
  });
  assert.equal(applyStrategicMergePatch(target, { spec: { $patch: 'delete' } }), {});
  assert.equal(applyStrategicMergePatch(target, { $patch: 'replace', kind: 'X' }), { kind: 'X' });
});

smp('ports: container ports by containerPort, Service spec.ports by port', () => {
  const service = deepFreeze({ kind: 'Service', spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'https', port: 443 }] } });
  const svc = applyStrategicMergePatch(service, { spec: { ports: [{ port: 80, targetPort: 9090 }] } }) as any;
  assert.equal(svc.spec.ports, [{ name: 'http', port: 80, targetPort: 9090 }, { name: 'https', port: 443 }]);
  const pod = deepFreeze({ spec: { containers: [{ name: 'c', ports: [{ containerPort: 80, name: 'http' }] }] } });
  const p = applyStrategicMergePatch(pod, { spec: { containers: [{ name: 'c', ports: [{ containerPort: 81 }] }] } }) as any;
  assert.equal(p.spec.containers[0].ports, [{ containerPort: 80, name: 'http' }, { containerPort: 81 }]);
  // ports elsewhere (e.g. Endpoints subsets) are atomic.
  const ep = applyStrategicMergePatch({ subsets: [{ ports: [{ port: 1 }] }] }, { subsets: [{ ports: [{ port: 2 }] }] });
  assert.equal(ep, { subsets: [{ ports: [{ port: 2 }] }] });
});

smp('atomic lists are replaced whole', () => {
  const pod = deepFreeze({
    spec: {
      tolerations: [{ key: 'a', operator: 'Exists' }, { key: 'b', operator: 'Exists' }],
      containers: [{ name: 'c', args: ['1', '2'], command: ['sh'], envFrom: [{ configMapRef: { name: 'x' } }] }],
    },
  });
  const result = applyStrategicMergePatch(pod, {
    spec: { tolerations: [{ key: 'c', operator: 'Exists' }], containers: [{ name: 'c', args: ['3'], command: ['bash'], envFrom: [] }] },
  });
  assert.equal(result, {
    spec: { tolerations: [{ key: 'c', operator: 'Exists' }], containers: [{ name: 'c', args: ['3'], command: ['bash'], envFrom: [] }] },
  });
  const node = applyStrategicMergePatch({ spec: { taints: [{ key: 'x', effect: 'NoSchedule' }] } }, { spec: { taints: [] } });
  assert.equal(node, { spec: { taints: [] } });
});

smp('finalizers merge as a set; $deleteFromPrimitiveList removes every copy', () => {
  const obj = deepFreeze({ metadata: { finalizers: ['a', 'b'] } });
  assert.equal(applyStrategicMergePatch(obj, { metadata: { finalizers: ['b', 'c', 'c'] } }), { metadata: { finalizers: ['a', 'b', 'c'] } });
  assert.equal(applyStrategicMergePatch({ metadata: { finalizers: ['a', 'b', 'a'] } }, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } }),
    { metadata: { finalizers: ['b'] } });
  assert.equal(applyStrategicMergePatch(obj, { metadata: { '$setElementOrder/finalizers': ['b', 'a'] } }), { metadata: { finalizers: ['b', 'a'] } });
  // Namespace spec.finalizers is not a set.
  assert.equal(applyStrategicMergePatch({ spec: { finalizers: ['kubernetes'] } }, { spec: { finalizers: ['x'] } }), { spec: { finalizers: ['x'] } });
});

smp('$setElementOrder orders patched items and keeps server-only items in place', () => {
  const pod = deepFreeze({ spec: { containers: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] } });
  const reordered = applyStrategicMergePatch(pod, { spec: { '$setElementOrder/containers': [{ name: 'c' }, { name: 'b' }, { name: 'a' }] } }) as any;
  assert.equal(reordered.spec.containers.map((c: any) => c.name), ['c', 'b', 'a']);
  const withNew = applyStrategicMergePatch(pod, {
    spec: { '$setElementOrder/containers': [{ name: 'd' }, { name: 'b' }], containers: [{ name: 'd', image: 'd' }] },
  }) as any;
  // a and c were not mentioned; d is new, so its place relative to them is unknown and server-only items go first.
  assert.equal(withNew.spec.containers.map((c: any) => c.name), ['a', 'c', 'd', 'b']);
  const partial = applyStrategicMergePatch(pod, { spec: { '$setElementOrder/containers': [{ name: 'c' }, { name: 'a' }] } }) as any;
  // b (server-only) sat before c on the server, so it stays ahead of it.
  assert.equal(partial.spec.containers.map((c: any) => c.name), ['b', 'c', 'a']);
  const tail = applyStrategicMergePatch(pod, { spec: { '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }] } }) as any;
  assert.equal(tail.spec.containers.map((c: any) => c.name), ['b', 'a', 'c']);
});

smp('conditions by type, ownerReferences by uid', () => {
  const pod = deepFreeze({
    metadata: { ownerReferences: [{ uid: 'u1', kind: 'ReplicaSet', name: 'rs' }] },
    status: { conditions: [{ type: 'Ready', status: 'False' }, { type: 'Scheduled', status: 'True' }] },
  });
  const result = applyStrategicMergePatch(pod, {
    metadata: { ownerReferences: [{ uid: 'u2', kind: 'ReplicaSet', name: 'rs2' }] },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  });
  assert.equal(result, {
    metadata: { ownerReferences: [{ uid: 'u1', kind: 'ReplicaSet', name: 'rs' }, { uid: 'u2', kind: 'ReplicaSet', name: 'rs2' }] },
    status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'Scheduled', status: 'True' }] },
  });
});

smp('malformed patches throw PatchError', () => {
  expectPatchError(() => applyStrategicMergePatch({}, []), /must be a JSON object/);
  expectPatchError(() => applyStrategicMergePatch({}, null), /must be a JSON object/);
  expectPatchError(() => applyStrategicMergePatch({}, { spec: { containers: [{ image: 'x' }] } }), /merge key "name"/);
  expectPatchError(() => applyStrategicMergePatch({}, { spec: { containers: ['x'] } }), /must be objects/);
  expectPatchError(() => applyStrategicMergePatch({}, { spec: { containers: [{ $patch: 'delete' }] } }), /merge key "name"/);
  expectPatchError(() => applyStrategicMergePatch({}, { spec: { containers: [{ $patch: 'merge', name: 'x' }] } }), /unsupported \$patch/);
  expectPatchError(() => applyStrategicMergePatch({}, { spec: { $patch: 'explode' } }), /unknown \$patch directive "explode"/);
  expectPatchError(() => applyStrategicMergePatch({}, { spec: { strategy: { $retainKeys: 'type' } } }), /\$retainKeys must be a list/);
  expectPatchError(() => applyStrategicMergePatch({}, { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: {} } } }), /not listed in \$retainKeys/);
  expectPatchError(() => applyStrategicMergePatch({}, { metadata: { '$deleteFromPrimitiveList/finalizers': 'a' } }), /must be a list/);
  expectPatchError(() => applyStrategicMergePatch({}, { metadata: { finalizers: [{ a: 1 }] } }), /scalar values/);
  expectPatchError(() => applyStrategicMergePatch({}, { spec: { '$setElementOrder/containers': [{ image: 'x' }] , containers: [] } }), /\$setElementOrder entries/);
});

smp('stripPatchDirectives removes directives, nulls and deleted maps', () => {
  assert.equal(stripPatchDirectives({ a: 1, $patch: 'replace', b: null, c: { $patch: 'delete' }, l: [{ $patch: 'replace' }, { x: 1, $retainKeys: ['x'] }] }),
    { a: 1, l: [{ x: 1 }] });
});

smp.run();

// -------------------------------------------------------------------------------------------
const dispatch = suite('patch errors');

dispatch('PatchError maps to a Status', () => {
  const bad = new PatchError('nope').toStatusError().toStatus();
  assert.is(bad.code, 400);
  assert.is(bad.reason, 'BadRequest');
  assert.is(bad.message, 'nope');
  const conflict = new PatchError('test failed', 'Conflict').toStatusError();
  assert.is(conflict.code, 409);
  assert.is(conflict.reason, 'Conflict');
});

dispatch.run();
