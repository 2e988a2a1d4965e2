/**
 * The protobuf body decoder against REAL kubectl v1.32 request bodies (test/fixtures/protobuf, captured
 * by capture.ts there): each <name>.bin must decode to <name>.json, the `--dry-run=client -o json`
 * output of the same command (hand-written for `create token` and `drain`, which have no dry-run).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeObject } from '../../api/meta.js';
import {
  ProtobufDecodeError, decodeProtobuf, decodeProtobufDeleteOptions, decodeProtobufObject, encodeProtobuf, encodeProtobufWatchFrame,
  isProtobufKindSupported,
} from '../../api/codec/protobuf.js';
import { SchemaRegistry, definePackage } from '../../api/codec/protobuf-schema.js';

// Compiled to dist/test/unit; the fixtures stay in the source tree.
const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/protobuf');

const fixture = (name: string): Uint8Array => readFileSync(join(FIXTURES, `${name}.bin`));
const expected = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8'));

/**
 * The one difference between Go's JSON and the decoder: JSON prints `null` for a zero metav1.Time
 * (`creationTimestamp: null`, TokenRequest `status.expirationTimestamp`) and for nil pointers/slices
 * whose tag lacks omitempty (TokenRequest `spec.boundObjectRef`, `spec.audiences`). On the wire those
 * are simply absent (an empty Time message, or no field), and the decoder leaves them out instead of
 * inventing nulls, which Kubernetes reads the same way. So nulls are dropped from the expectation;
 * everything else, `status: {}` and `resources: {}` included, must match exactly.
 */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, dropNulls(v)]));
  }
  return value;
}

// ---------------------------------------------------------------- tiny encoder for hand-made bodies

function varint(n: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? byte | 0x80 : byte);
  } while (v > 0n);
  return out;
}
const ld = (fieldNo: number, payload: number[]): number[] => [...varint((fieldNo << 3) | 2), ...varint(payload.length), ...payload];
const str = (fieldNo: number, s: string): number[] => ld(fieldNo, [...Buffer.from(s, 'utf8')]);
const vint = (fieldNo: number, n: number | bigint): number[] => [...varint(fieldNo << 3), ...varint(n)];
function envelope(apiVersion: string, kind: string, raw: number[]): Uint8Array {
  return Uint8Array.from([0x6b, 0x38, 0x73, 0x00, ...ld(1, [...str(1, apiVersion), ...str(2, kind)]), ...ld(2, raw), ...str(3, ''), ...str(4, '')]);
}

function throwsDecodeError(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ProtobufDecodeError);
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected a ProtobufDecodeError matching ${pattern}`);
}

// ---------------------------------------------------------------- captured bodies

const captured = suite('protobuf: captured kubectl bodies');

const names = readdirSync(FIXTURES).filter((f) => f.endsWith('.bin')).map((f) => f.slice(0, -'.bin'.length)).sort();

captured('the fixture set covers every protobuf-sending command', () => {
  assert.equal(names, [
    'configmap', 'cronjob', 'deployment', 'deployment-zero-replicas', 'drain-delete-options', 'job', 'namespace',
    'priorityclass', 'quota', 'secret-docker-registry', 'secret-generic', 'secret-tls', 'service-clusterip',
    'service-clusterip-headless', 'service-nodeport', 'serviceaccount', 'token', 'token-bound',
  ]);
});

for (const name of names) {
  captured(`${name}.bin decodes to the dry-run JSON`, () => {
    assert.equal(decodeProtobuf(fixture(name)), dropNulls(expected(name)));
  });
}

captured('replicas: 0 survives (a pointer field, on the wire only when set)', () => {
  const d = decodeProtobufObject(fixture('deployment-zero-replicas')) as KubeObject;
  assert.is((d['spec'] as { replicas?: number }).replicas, 0);
  assert.is(d.metadata.namespace, 'team-a');
  // ...while gogo's written-out zeros for omitempty fields are dropped.
  assert.not.ok('minReadySeconds' in (d['spec'] as object));
  assert.not.ok('generation' in d.metadata);
});

captured('byte maps come out base64 and IntOrString keeps its string form', () => {
  const cm = decodeProtobufObject(fixture('configmap')) as KubeObject;
  assert.equal(cm['binaryData'], { 'logo.bin': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, 0xfe, 0x01]).toString('base64') });
  const secret = decodeProtobufObject(fixture('secret-generic')) as KubeObject;
  assert.is(Buffer.from((secret['data'] as Record<string, string>)['password']!, 'base64').toString(), 's3cr3t!');
  const svc = decodeProtobufObject(fixture('service-clusterip')) as KubeObject;
  const ports = (svc['spec'] as { ports: { targetPort: unknown }[] }).ports;
  assert.equal(ports.map((p) => p.targetPort), [8080, 'https']);
});

captured('DeleteOptions decode through both entry points; the typed one refuses other kinds', () => {
  const want = { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 7 };
  assert.equal(decodeProtobufDeleteOptions(fixture('drain-delete-options')), want);
  // The API server's generic body decoder hands DELETE bodies to decodeProtobufObject too.
  assert.equal(decodeProtobufObject(fixture('drain-delete-options')), want);
  throwsDecodeError(() => decodeProtobufDeleteOptions(fixture('namespace')), /expected DeleteOptions, got Namespace/);
});

captured.run();

// ---------------------------------------------------------------- hand-made and malformed bodies

const malformed = suite('protobuf: malformed and unusual input');

malformed('bad magic is rejected', () => {
  const body = fixture('namespace').slice();
  body[3] = 0x01;
  throwsDecodeError(() => decodeProtobuf(body), /k8s\\0/);
  throwsDecodeError(() => decodeProtobuf(Buffer.from('{"kind":"Namespace","apiVersion":"v1"}')), /k8s\\0/);
  throwsDecodeError(() => decodeProtobuf(new Uint8Array(0)), /k8s\\0/);
});

malformed('truncated bodies are rejected wherever they are cut', () => {
  const body = fixture('deployment');
  // 2 = inside the magic, 10 = inside TypeMeta, 100 = inside the raw object, length-1 = inside the last field.
  for (const cut of [2, 10, 100, body.length - 1]) {
    throwsDecodeError(() => decodeProtobuf(body.subarray(0, cut)), /k8s|truncated|runs past/);
  }
});

malformed('a length that runs past the enclosing message is rejected', () => {
  // metadata claims 50 bytes but only 3 follow, all inside a well-formed envelope.
  const raw = [0x0a, 50, 0x0a, 0x01, 0x61];
  throwsDecodeError(() => decodeProtobuf(envelope('v1', 'Namespace', raw)), /Namespace\.metadata: length 50 runs past/);
});

malformed('an unsupported kind is named in the error', () => {
  throwsDecodeError(() => decodeProtobuf(envelope('example.com/v1', 'Widget', [])), /Widget \(example\.com\/v1\) is not supported/);
  assert.not.ok(isProtobufKindSupported('example.com/v1', 'Widget'));
  assert.not.ok(isProtobufKindSupported('v1', 'Widget'));
  assert.ok(isProtobufKindSupported('apps/v1', 'Deployment'));
  assert.ok(isProtobufKindSupported('v1', 'Pod'));
  throwsDecodeError(() => decodeProtobuf(envelope('', '', [])), /no apiVersion\/kind/);
});

malformed('an object without metadata is refused as an object', () => {
  throwsDecodeError(() => decodeProtobufObject(envelope('v1', 'Namespace', [])), /Namespace carries no metadata/);
});

malformed('a wire type that does not match the field table is rejected with its path', () => {
  // metadata.name (field 1 of ObjectMeta) sent as a varint.
  const raw = ld(1, vint(1, 7));
  throwsDecodeError(() => decodeProtobuf(envelope('v1', 'Namespace', raw)), /Namespace\.metadata\.name: expected length-delimited, got varint/);
});

malformed('an over-long varint is rejected', () => {
  const raw = [...varint(99 << 3), ...new Array<number>(11).fill(0xff)]; // an unknown field being skipped
  throwsDecodeError(() => decodeProtobuf(envelope('v1', 'Namespace', raw)), /Namespace: truncated|invalid varint/);
});

malformed('unknown fields of every wire type are skipped', () => {
  const metadata = [
    ...str(1, 'lab'),
    ...vint(99, 12345), // unknown varint
    0xa5, 0x06, 1, 2, 3, 4, // field 100, fixed32
    0xa9, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, // field 101, fixed64
    ...str(102, 'ignored'), // unknown length-delimited
  ];
  assert.equal(decodeProtobuf(envelope('v1', 'Namespace', ld(1, metadata))), { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'lab' } });
});

malformed('times, owner references, finalizers and annotations decode', () => {
  const time = [...vint(1, 1_700_000_000), ...vint(2, 0)];
  const owner = [...str(1, 'ReplicaSet'), ...str(3, 'web-abc'), ...str(4, 'u-1'), ...str(5, 'apps/v1'), ...vint(6, 1), ...vint(7, 0)];
  const metadata = [
    ...str(1, 'web-abc-x'), ...str(2, 'web-abc-'), ...vint(7, 3), ...ld(8, time),
    ...ld(12, [...str(1, 'note'), ...str(2, '')]),
    ...ld(13, owner), ...str(14, 'example.com/guard'),
  ];
  const decoded = decodeProtobufObject(envelope('v1', 'ConfigMap', ld(1, metadata))) as KubeObject;
  assert.equal(decoded.metadata, {
    name: 'web-abc-x', generateName: 'web-abc-', generation: 3, creationTimestamp: '2023-11-14T22:13:20Z',
    annotations: { note: '' },
    ownerReferences: [{ kind: 'ReplicaSet', name: 'web-abc', uid: 'u-1', apiVersion: 'apps/v1', controller: true, blockOwnerDeletion: false }],
    finalizers: ['example.com/guard'],
  });
});

malformed('negative int64 values (ten-byte varints) decode', () => {
  const raw = vint(1, -1n); // DeleteOptions.gracePeriodSeconds = -1
  assert.equal(decodeProtobufDeleteOptions(envelope('v1', 'DeleteOptions', raw)), { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: -1 });
});

malformed.run();

// ---------------------------------------------------------------- schema language and encoder

const schema = suite('protobuf: schema tables and encoder');

schema('a table with a typo, a duplicate number or an unknown message fails when compiled', () => {
  const bad = (messages: Record<string, string>): string => {
    try {
      new SchemaRegistry([definePackage('x/v1', 'x', messages)]);
    } catch (err) {
      return (err as Error).message;
    }
    return 'compiled';
  };
  assert.match(bad({ A: '1 name' }), /cannot read field "1 name"/);
  assert.match(bad({ A: '1 a string; 1 b string' }), /field number 1 twice/);
  assert.match(bad({ A: '1 b Missing' }), /no message x\.Missing/);
  assert.is(bad({ A: '1 b B', B: '1 c *int32' }), 'compiled');
});

schema('corral encodes what it decodes: micro times, bytes, maps, kept zeros, int-or-strings, embedded JSON, Status', () => {
  const objects = [
    {
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', namespace: 'kube-node-lease', labels: { a: '' } },
      spec: { holderIdentity: 'n', leaseDurationSeconds: 0, renewTime: '2026-01-02T03:04:05.123456Z' },
    },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { k: Buffer.from([0, 255]).toString('base64') }, type: 'Opaque' },
    { apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name: 'r' }, data: { spec: { x: [1, 'two'] } }, revision: 7 },
    {
      apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'p' },
      spec: { maxUnavailable: 0, selector: { matchExpressions: [{ key: 'a', operator: 'Exists' }] } },
    },
    {
      apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', metadata: {},
      spec: { user: 'u', extra: { scopes: ['a', 'b'] }, nonResourceAttributes: { path: '/', verb: 'get' } }, status: { allowed: false },
    },
    { apiVersion: 'v1', kind: 'Status', metadata: {}, status: 'Failure', message: 'gone', reason: 'NotFound', details: { name: 'x', kind: 'pods' }, code: 404 },
  ];
  for (const obj of objects) {
    // `allowed: false` and `leaseDurationSeconds: 0` survive: no omitempty, and a pointer.
    assert.equal(decodeProtobuf(encodeProtobuf(obj)), obj, obj.kind);
  }
});

schema('a watch frame is a big-endian length and a WatchEvent holding the enveloped object', () => {
  const obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'w' }, data: { a: '1' } };
  const frame = encodeProtobufWatchFrame('ADDED', obj);
  const length = new DataView(frame.buffer, frame.byteOffset).getUint32(0, false);
  assert.is(length, frame.length - 4);
  // WatchEvent: field 1 "ADDED", field 2 {field 1: the enveloped object}.
  const event = frame.subarray(4);
  assert.equal([...event.subarray(0, 7)], [0x0a, 5, ...Buffer.from('ADDED')]);
  const inner = encodeProtobuf(obj);
  assert.equal(Buffer.from(event.subarray(event.length - inner.length)), Buffer.from(inner));
  assert.equal(decodeProtobuf(event.subarray(event.length - inner.length)), obj);
});

schema.run();
