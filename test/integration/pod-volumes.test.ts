/**
 * The agent's volume work on a real filesystem (as root): a claim resolves to its bound volume's
 * directory (made for local-path on first use, refused while unbound), readOnly claims mount
 * read-only, fsGroup gives a volume the pod's group once, memory emptyDirs are real tmpfs mounts of
 * sizeLimit that are unmounted with the pod's directory, subPath directories are made and may not
 * escape through a symlink, and the local-path cleanup removes exactly the volume's own directory.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PersistentVolume, PersistentVolumeClaim, Pod } from '../../api/types.js';
import { containerMounts, prepareVolumes, removePodDir, type VolumeSources } from '../../agent/pods/volumes.js';
import { mountsUnder } from '../../agent/pods/volume-storage.js';
import { needsCleanup, removableDirectory } from '../../agent/storage/local-path-cleanup.js';

const it = suite('pod volumes on the node');
const root = mkdtempSync(join(tmpdir(), 'corral-vol-'));
const podsDir = join(root, 'pods');
const storage = join(root, 'storage');

function boundClaim(name: string, volumeName: string | undefined): PersistentVolumeClaim {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, ...(volumeName ? { volumeName } : {}) },
    status: { phase: volumeName ? 'Bound' : 'Pending' },
  };
}

function localPathPV(claim: PersistentVolumeClaim): PersistentVolume {
  const uid = claim.metadata.uid!;
  return {
    metadata: {
      name: `pvc-${uid}`, annotations: { 'pv.kubernetes.io/provisioned-by': 'rancher.io/local-path' },
      finalizers: ['kubernetes.io/pv-protection', 'corral.dev/local-path-cleanup'],
    },
    spec: {
      capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'],
      claimRef: { namespace: 'default', name: claim.metadata.name!, uid },
      hostPath: { path: join(storage, `pvc-${uid}_default_${claim.metadata.name}`), type: 'DirectoryOrCreate' },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n1'] }] }] } },
    },
  };
}

const claims = new Map<string, PersistentVolumeClaim>();
const volumes = new Map<string, PersistentVolume>();
const sources: VolumeSources = {
  configMap: async () => undefined,
  secret: async () => undefined,
  claim: async (_ns, name) => claims.get(name),
  volume: async (name) => volumes.get(name),
  serviceAccountToken: async () => { throw new Error('no service-account tokens in this test'); },
};

function pod(uid: string, spec: Partial<Pod['spec']>): Pod {
  return { metadata: { name: uid, namespace: 'default', uid }, spec: { containers: [{ name: 'c' }], ...spec } };
}

it.after(async () => {
  await removePodDir(podsDir, 'mem');
  rmSync(root, { recursive: true, force: true });
});

it('a bound local-path claim mounts its volume directory, made on first use with mode 0777', async () => {
  const c = boundClaim('data', 'pvc-uid-data');
  claims.set('data', c);
  volumes.set('pvc-uid-data', localPathPV(c));
  const p = pod('p1', { volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'data' } }, { name: 'ro', persistentVolumeClaim: { claimName: 'data', readOnly: true } }] });
  const prepared = await prepareVolumes(p, podsDir, sources);
  const dir = join(storage, 'pvc-uid-data_default_data');
  assert.is(prepared.get('d'), dir);
  assert.is(statSync(dir).mode & 0o777, 0o777);
  const mounts = containerMounts({ name: 'c', volumeMounts: [{ name: 'd', mountPath: '/data' }, { name: 'ro', mountPath: '/ro' }] }, prepared);
  assert.equal(mounts, [
    { source: dir, destination: '/data', readOnly: false },
    { source: dir, destination: '/ro', readOnly: true },
  ]);
});

it('an unbound or missing claim is refused with a clear error (the pod retries later)', async () => {
  claims.set('waiting', boundClaim('waiting', undefined));
  await prepareVolumes(pod('p2', { volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'waiting' } }] }), podsDir, sources)
    .then(() => assert.unreachable('should fail'), (err: Error) => assert.is(err.message, 'persistentvolumeclaim "waiting" is not bound yet'));
  await prepareVolumes(pod('p3', { volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'ghost' } }] }), podsDir, sources)
    .then(() => assert.unreachable('should fail'), (err: Error) => assert.is(err.message, 'persistentvolumeclaim "ghost" not found'));
});

it('fsGroup gives the volume the pod group once, with setgid directories', async () => {
  const c = boundClaim('grp', 'pvc-uid-grp');
  claims.set('grp', c);
  volumes.set('pvc-uid-grp', localPathPV(c));
  const dir = join(storage, 'pvc-uid-grp_default_grp');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'sub', 'f'), 'x', { mode: 0o600 });
  await prepareVolumes(pod('p4', { securityContext: { fsGroup: 2345 }, volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'grp' } }] }), podsDir, sources);
  assert.is(statSync(dir).gid, 2345);
  assert.ok((statSync(join(dir, 'sub')).mode & 0o2000) !== 0, 'setgid on directories');
  const f = statSync(join(dir, 'sub', 'f'));
  assert.is(f.gid, 2345);
  assert.is(f.mode & 0o070, 0o060);
});

it('a memory emptyDir is a tmpfs of sizeLimit, unmounted when the pod directory goes', async () => {
  const p = pod('mem', { volumes: [{ name: 'cache', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }] });
  const prepared = await prepareVolumes(p, podsDir, sources);
  const dir = prepared.get('cache')!;
  assert.equal(await mountsUnder(join(podsDir, 'mem')), [dir]);
  const info = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === dir)!;
  assert.match(info, /tmpfs/);
  assert.match(info, /size=1024k/);
  assert.throws(() => writeFileSync(join(dir, 'big'), Buffer.alloc(2 * 1024 * 1024)), /ENOSPC/);
  await removePodDir(podsDir, 'mem');
  assert.equal(await mountsUnder(join(podsDir, 'mem')), []);
  assert.not.ok(existsSync(join(podsDir, 'mem')));
});

it('subPath directories are made, and a symlink out of the volume is refused', async () => {
  const prepared = await prepareVolumes(pod('p5', { volumes: [{ name: 'e', emptyDir: {} }] }), podsDir, sources);
  const dir = prepared.get('e')!;
  const [m] = containerMounts({ name: 'c', volumeMounts: [{ name: 'e', mountPath: '/x', subPath: 'a/b' }] }, prepared);
  assert.is(m!.source, join(dir, 'a/b'));
  assert.ok(statSync(join(dir, 'a/b')).isDirectory());
  symlinkSync('/etc', join(dir, 'escape'));
  assert.throws(() => containerMounts({ name: 'c', volumeMounts: [{ name: 'e', mountPath: '/x', subPath: 'escape' }] }, prepared), /leads outside its volume/);
});

it('local-path cleanup acts on this node\'s deleted volumes and only on their own directory', () => {
  const c = boundClaim('gone', 'pvc-uid-gone');
  const pv = localPathPV(c);
  assert.not.ok(needsCleanup(pv, 'n1'), 'not deleted yet');
  pv.metadata.deletionTimestamp = '2025-01-01T00:00:00Z';
  assert.ok(needsCleanup(pv, 'n1'));
  assert.not.ok(needsCleanup(pv, 'n2'), 'another node\'s volume');
  assert.equal(removableDirectory(pv, storage), { path: join(storage, 'pvc-uid-gone_default_gone') });
  assert.ok('refused' in removableDirectory(pv, join(root, 'other-storage')), 'not below this node\'s storage dir');
  const tampered = { ...pv, spec: { ...pv.spec, hostPath: { path: '/etc' } } };
  assert.ok('refused' in removableDirectory(tampered, storage));
  const sneaky = { ...pv, spec: { ...pv.spec, hostPath: { path: `${storage}/../pvc-uid-gone_default_gone` } } };
  assert.ok('refused' in removableDirectory(sneaky, storage));
});

it.run();
