/**
 * The storage kinds and StatefulSet/ControllerRevision at the API edge: upstream's validation
 * messages (access modes, sizes, volume sources, immutable fields), defaults, table cells, and the
 * administrator's hostPath roots rule.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { KubeObject } from '../../api/meta.js';
import { resourceForKind } from '../../api/resources.js';
import { applyDefaults } from '../../api/defaults.js';
import { validateObject } from '../../api/validation/index.js';
import { toTable } from '../../server/apiserver/tables.js';
import { isUnderRoots, pickDefaultClass } from '../../server/apiserver/allocators/storage-admission.js';
import type { StorageClass } from '../../api/types.js';

function lines(kind: string, obj: Record<string, unknown>, old?: Record<string, unknown>): string[] {
  const info = resourceForKind(kind)!;
  applyDefaults(kind, obj as unknown as KubeObject);
  if (old) applyDefaults(kind, old as unknown as KubeObject);
  return validateObject(info, obj as unknown as KubeObject, old as unknown as KubeObject | undefined)
    .map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const pv = (spec: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'pv1' }, spec,
});
const pvc = (spec: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data', namespace: 'default' }, spec,
});
const GOOD_PV = { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/srv/pv1' } };
const GOOD_CLAIM = { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } };

const validation = suite('storage: validation');

validation('a well-formed PV, claim and class are accepted', () => {
  assert.equal(lines('PersistentVolume', pv(clone(GOOD_PV))), []);
  assert.equal(lines('PersistentVolumeClaim', pvc(clone(GOOD_CLAIM))), []);
  assert.equal(lines('StorageClass', { metadata: { name: 'fast' }, provisioner: 'rancher.io/local-path' }), []);
});

validation('PV: missing pieces and bad values get upstream messages', () => {
  const got = lines('PersistentVolume', pv({ capacity: { storage: '-1Gi', cpu: '1' }, accessModes: ['ReadWriteOncePod', 'Bogus'], persistentVolumeReclaimPolicy: 'Keep' }));
  assert.ok(got.includes('spec.accessModes: Unsupported value: "Bogus": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"'), got.join('\n'));
  assert.ok(got.includes('spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes'), got.join('\n'));
  assert.ok(got.includes('spec.capacity: Unsupported value: core.ResourceList{"storage", "cpu"}: supported values: "storage"'), got.join('\n'));
  assert.ok(got.includes('spec.capacity[storage]: Invalid value: "-1Gi": must be greater than or equal to 0'), got.join('\n'));
  assert.ok(got.includes('spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"'), got.join('\n'));
  assert.ok(got.includes('spec: Required value: must specify a volume type'), got.join('\n'));
  const empty = lines('PersistentVolume', pv({ hostPath: { path: '/srv/x' } }));
  assert.ok(empty.includes('spec.accessModes: Required value'), empty.join('\n'));
  assert.ok(empty.includes('spec.capacity: Required value'), empty.join('\n'));
});

validation('PV: local needs node affinity and an absolute path; two sources are refused', () => {
  const got = lines('PersistentVolume', pv({ ...GOOD_PV, local: { path: 'rel/dir' } }));
  assert.ok(got.includes('spec.local: Forbidden: may not specify more than 1 volume type'), got.join('\n'));
  assert.ok(got.includes('spec.local.path: Invalid value: "rel/dir": must be an absolute path'), got.join('\n'));
  assert.ok(got.includes('spec.nodeAffinity: Required value: Local volume requires node affinity'), got.join('\n'));
  const terms = lines('PersistentVolume', pv({ ...GOOD_PV, nodeAffinity: { required: { nodeSelectorTerms: [] } } }));
  assert.ok(terms.includes('spec.nodeAffinity.required.nodeSelectorTerms: Required value: must have at least one node selector term'), terms.join('\n'));
});

validation('PV: the volume source is immutable, the reclaim policy is not', () => {
  const old = pv(clone(GOOD_PV));
  const moved = pv({ ...clone(GOOD_PV), hostPath: { path: '/srv/other' } });
  assert.ok(lines('PersistentVolume', moved, old).includes('spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation'));
  assert.equal(lines('PersistentVolume', pv({ ...clone(GOOD_PV), persistentVolumeReclaimPolicy: 'Delete' }), pv(clone(GOOD_PV))), []);
});

validation('PVC: impossible sizes and modes are refused with upstream messages', () => {
  const zero = lines('PersistentVolumeClaim', pvc({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '0' } } }));
  assert.ok(zero.includes('spec.resources[storage]: Invalid value: "0": must be greater than zero'), zero.join('\n'));
  const none = lines('PersistentVolumeClaim', pvc({ resources: {} }));
  assert.ok(none.includes('spec.accessModes: Required value: at least 1 access mode is required'), none.join('\n'));
  assert.ok(none.includes('spec.resources[storage]: Required value'), none.join('\n'));
  const bad = lines('PersistentVolumeClaim', pvc({ ...GOOD_CLAIM, accessModes: ['ReadWriteSometimes'], storageClassName: 'Not_A_Name' }));
  assert.ok(bad.some((l) => l.startsWith('spec.accessModes: Unsupported value: "ReadWriteSometimes"')), bad.join('\n'));
  assert.ok(bad.some((l) => l.startsWith('spec.storageClassName: Invalid value: "Not_A_Name"')), bad.join('\n'));
});

validation('PVC: the spec is immutable except filling in volumeName once', () => {
  const old = pvc(clone(GOOD_CLAIM));
  assert.equal(lines('PersistentVolumeClaim', pvc({ ...clone(GOOD_CLAIM), volumeName: 'pv1' }), old), []);
  const grown = pvc({ ...clone(GOOD_CLAIM), resources: { requests: { storage: '2Gi' } } });
  assert.ok(lines('PersistentVolumeClaim', grown, pvc(clone(GOOD_CLAIM))).some((l) => l.startsWith('spec.resources.requests.storage: Forbidden:')));
  const remodel = pvc({ ...clone(GOOD_CLAIM), accessModes: ['ReadWriteMany'] });
  assert.ok(lines('PersistentVolumeClaim', remodel, pvc(clone(GOOD_CLAIM))).includes(
    'spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'));
  const rebind = pvc({ ...clone(GOOD_CLAIM), volumeName: 'pv2' });
  assert.ok(lines('PersistentVolumeClaim', rebind, pvc({ ...clone(GOOD_CLAIM), volumeName: 'pv1' })).length > 0);
});

validation('StorageClass: provisioner, parameters, reclaim policy and binding mode are fixed', () => {
  const sc = { metadata: { name: 'x' }, provisioner: 'a.b/c', parameters: { a: '1' } };
  const got = lines('StorageClass', { ...clone(sc), provisioner: 'd.e/f', parameters: { a: '2' }, reclaimPolicy: 'Retain', volumeBindingMode: 'WaitForFirstConsumer' }, clone(sc));
  assert.equal(got.sort(), [
    'parameters: Forbidden: updates to parameters are forbidden.',
    'provisioner: Forbidden: updates to provisioner are forbidden.',
    'reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.',
    'volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable',
  ]);
  assert.ok(lines('StorageClass', { metadata: { name: 'y' }, provisioner: '' }).includes('provisioner: Required value'));
});

const TEMPLATE = { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } };
const sts = (spec: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: 'default' },
  spec: { selector: { matchLabels: { app: 'db' } }, serviceName: 'db', template: clone(TEMPLATE), ...spec },
});

validation('StatefulSet: defaults, strategy and claim templates are validated; most of the spec is fixed', () => {
  const obj = sts({ volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: clone(GOOD_CLAIM) }] });
  assert.equal(lines('StatefulSet', obj), []);
  const spec = obj['spec'] as Record<string, unknown>;
  assert.is(spec['podManagementPolicy'], 'OrderedReady');
  assert.equal(spec['updateStrategy'], { type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
  assert.equal(spec['persistentVolumeClaimRetentionPolicy'], { whenDeleted: 'Retain', whenScaled: 'Retain' });
  const bad = lines('StatefulSet', sts({
    podManagementPolicy: 'Random', updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: -1, maxUnavailable: 0 } },
    volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { resources: { requests: { storage: '0' } } } }],
  }));
  assert.ok(bad.includes('spec.podManagementPolicy: Unsupported value: "Random": supported values: "OrderedReady", "Parallel"'), bad.join('\n'));
  assert.ok(bad.includes('spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0'), bad.join('\n'));
  assert.ok(bad.includes('spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: must be greater than 0'), bad.join('\n'));
  assert.ok(bad.includes('spec.volumeClaimTemplates[0].spec.resources[storage]: Invalid value: "0": must be greater than zero'), bad.join('\n'));
  const renamed = lines('StatefulSet', sts({ serviceName: 'other' }), sts({}));
  assert.ok(renamed.some((l) => l.startsWith("spec: Forbidden: updates to statefulset spec for fields other than 'replicas'")), renamed.join('\n'));
  assert.equal(lines('StatefulSet', sts({ replicas: 5 }), sts({})), []);
});

validation('ControllerRevision: data is mandatory and immutable', () => {
  const cr = { apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name: 'r', namespace: 'default' }, revision: 1 };
  assert.ok(lines('ControllerRevision', clone(cr)).includes('data: Required value: data is mandatory'));
  assert.ok(lines('ControllerRevision', { ...cr, data: { a: 2 } }, { ...cr, data: { a: 1 } }).some((l) => l.startsWith('data: Invalid value')));
});

validation.run();

const admission = suite('storage: admission rules');

admission('hostPath roots: inside is allowed, outside and escapes through .. are not', () => {
  const roots = ['/var/lib/corral/storage', '/srv'];
  assert.ok(isUnderRoots('/srv', roots));
  assert.ok(isUnderRoots('/srv/photos/', roots));
  assert.ok(isUnderRoots('/var/lib/corral/storage/pvc-1', roots));
  assert.not.ok(isUnderRoots('/srv2', roots));
  assert.not.ok(isUnderRoots('/srv/../etc', roots));
  assert.not.ok(isUnderRoots('/var/lib/corral', roots));
  assert.not.ok(isUnderRoots('srv/x', roots));
  assert.ok(isUnderRoots('/anything', ['/']));
});

admission('the default class is the newest one marked default', () => {
  const sc = (name: string, created: string, isDefault: boolean): StorageClass => ({
    metadata: { name, creationTimestamp: created, ...(isDefault ? { annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } : {}) },
    provisioner: 'x',
  });
  assert.is(pickDefaultClass([sc('a', '2025-01-01T00:00:00Z', true), sc('b', '2025-02-01T00:00:00Z', true), sc('c', '2025-03-01T00:00:00Z', false)])?.metadata.name, 'b');
  assert.is(pickDefaultClass([sc('c', '2025-03-01T00:00:00Z', false)]), undefined);
});

admission.run();

const tables = suite('storage: table columns');
const NOW = new Date('2025-06-01T12:00:00Z');
const table = (kind: string, obj: object): { names: string[]; cells: unknown[] } => {
  const t = toTable(resourceForKind(kind)!, [obj as KubeObject], { now: NOW });
  return { names: (t.columnDefinitions ?? []).map((c) => c.name), cells: t.rows[0]!.cells };
};
const created = '2025-06-01T11:50:00Z';

tables('PV, PVC, StorageClass, StatefulSet and ControllerRevision print upstream columns', () => {
  const v = table('PersistentVolume', {
    metadata: { name: 'pv1', creationTimestamp: created },
    spec: { capacity: { storage: '5Gi' }, accessModes: ['ReadWriteMany', 'ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', claimRef: { namespace: 'default', name: 'data' }, storageClassName: 'manual', volumeMode: 'Filesystem' },
    status: { phase: 'Bound' },
  });
  assert.equal(v.names, ['Name', 'Capacity', 'Access Modes', 'Reclaim Policy', 'Status', 'Claim', 'StorageClass', 'VolumeAttributesClass', 'Reason', 'Age', 'VolumeMode']);
  assert.equal(v.cells, ['pv1', '5Gi', 'RWO,RWX', 'Retain', 'Bound', 'default/data', 'manual', '<unset>', '', '10m', 'Filesystem']);
  const c = table('PersistentVolumeClaim', {
    metadata: { name: 'data', namespace: 'default', creationTimestamp: created },
    spec: { volumeName: 'pv1', storageClassName: 'manual', volumeMode: 'Filesystem' },
    status: { phase: 'Bound', capacity: { storage: '5Gi' }, accessModes: ['ReadWriteOnce'] },
  });
  assert.equal(c.names, ['Name', 'Status', 'Volume', 'Capacity', 'Access Modes', 'StorageClass', 'VolumeAttributesClass', 'Age', 'VolumeMode']);
  assert.equal(c.cells, ['data', 'Bound', 'pv1', '5Gi', 'RWO', 'manual', '<unset>', '10m', 'Filesystem']);
  const s = table('StorageClass', {
    metadata: { name: 'local-path', creationTimestamp: created, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: 'rancher.io/local-path', reclaimPolicy: 'Delete', volumeBindingMode: 'WaitForFirstConsumer',
  });
  assert.equal(s.cells, ['local-path (default)', 'rancher.io/local-path', 'Delete', 'WaitForFirstConsumer', false, '10m']);
  const st = table('StatefulSet', { metadata: { name: 'db', creationTimestamp: created }, spec: { replicas: 3, template: TEMPLATE }, status: { replicas: 3, readyReplicas: 2 } });
  assert.equal(st.cells, ['db', '2/3', '10m', 'c', 'busybox:1.36']);
  const cr = table('ControllerRevision', {
    metadata: { name: 'db-5d8f', creationTimestamp: created, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'u', controller: true }] },
    revision: 2,
  });
  assert.equal(cr.cells, ['db-5d8f', 'statefulset.apps/db', 2, '10m']);
});

tables.run();
