/**
 * Image platforms on an amd64 node (the default tier's share of the arm64 work; the emulated arm64 node
 * itself is the arm64 tier, test/arm64/): a real `corral agent` with real containerd pulls from the lab's
 * registry
 * - an arm64-only image (a real arm64 busybox): containerd pulls it without complaint, and on this
 *   machine, where qemu-user may sit in binfmt_misc, it would even run emulated; corral refuses it
 *   before any container exists, with ErrImagePull naming both platforms, and never crash-loops;
 * - a multi-arch index (amd64 + arm64): the amd64 variant runs, and says so.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab, type LabProcess } from './harness.js';
import { buildBusyboxImage } from './image.js';
import { labTierAvailable } from './prerequisites.js';
import { startLabCluster, type LabCluster } from './agent-cluster.js';
import { AMD64_VARIANT, ARM64_VARIANT, missingArm64ImagePrerequisites } from './arm64-userland.js';
import type { Event, Pod } from '../../api/types.js';
import type { KubeList } from '../../api/meta.js';
import { waitUntil } from '../support/wait.js';

const test = suite('image platforms on an amd64 node');
const IMAGE_CACHE = '/tmp/corral-lab-images';
const MINI_REGISTRY = join(dirname(fileURLToPath(import.meta.url)), 'mini-registry.js');

let lab: Lab | undefined;
let cluster: LabCluster | undefined;
const need = (): LabCluster => {
  if (!cluster) throw new Error('the lab cluster did not come up (see the first test)');
  return cluster;
};
const agentLog = (): string => {
  const p = cluster?.agents.get('n1');
  return p ? readFileSync(p.logFile, 'utf8').slice(-3000) : '';
};

/** Serves one image tarball from a mini registry on the control host; resolves once it listens. */
async function serveImage(l: Lab, tar: string, port: number): Promise<LabProcess> {
  const layout = join(l.dir, `registry-${port}`);
  mkdirSync(layout, { recursive: true });
  const untar = await l.exec('control', ['tar', '-xf', tar, '-C', layout]);
  if (untar.code !== 0) throw new Error(`untar ${tar}: ${untar.stderr}`);
  const p = l.spawn('control', [process.execPath, MINI_REGISTRY, layout, l.controlIp, String(port), 'lab', 'lab'], { logName: `registry-${port}` });
  await waitUntil(`registry :${port} listening`, async () => readFileSync(p.logFile, 'utf8').includes('listening'), 10_000, 100);
  return p;
}

const podYaml = (name: string, image: string, command: string): string => `
apiVersion: v1
kind: Pod
metadata: { name: ${name} }
spec:
  nodeName: n1
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  imagePullSecrets: [{ name: regcred }]
  containers: [{ name: main, image: '${image}', imagePullPolicy: IfNotPresent, command: ['sh', '-c', '${command}'] }]
`;

const missing = missingArm64ImagePrerequisites();
if (missing.length > 0) {
  if (process.env['CI'] === 'true') test('arm64 image prerequisites are present', () => { throw new Error(`missing: ${missing.join(', ')}`); });
  else test.skip(`image platform tests (skipped: missing ${missing.join(', ')})`, () => undefined);
} else if (labTierAvailable(test, 'image platform lab test')) {
  test.after(async () => {
    if (lab) {
      const report = await lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
  });

  test('an arm64-only image fails on an amd64 node with ErrImagePull naming both platforms, and no container is ever created', async () => {
    lab = await createLab({ name: 'imgplat', nodes: 1 });
    const [armOnly, multi] = await Promise.all([
      buildBusyboxImage({ dir: IMAGE_CACHE, ref: 'lab.local/arm-only:1', variants: [ARM64_VARIANT] }),
      buildBusyboxImage({ dir: IMAGE_CACHE, ref: 'lab.local/multi:1', variants: [AMD64_VARIANT, ARM64_VARIANT] }),
    ]);
    await Promise.all([serveImage(lab, armOnly, 5000), serveImage(lab, multi, 5001)]);
    cluster = await startLabCluster(lab, { crashBackoff: '1s', agentArgs: ['--plain-http-registry', `${lab.controlIp}:5000,${lab.controlIp}:5001`] });
    const c = need();
    await c.kubectlOk(['create', 'secret', 'docker-registry', 'regcred', `--docker-server=${lab.controlIp}:5000`, '--docker-username=lab', '--docker-password=lab']);
    await c.kubectlOk(['create', 'secret', 'docker-registry', 'regcred2', `--docker-server=${lab.controlIp}:5001`, '--docker-username=lab', '--docker-password=lab']);
    await c.kubectlOk(['apply', '-f', '-'], podYaml('arm-only', `${lab.controlIp}:5000/lab/arm-only:1`, 'uname -m; sleep 3600'));
    const waiting = await waitUntil('arm-only waiting with an image error', async () => {
      const p = await c.getJson<Pod>(['get', 'pod', 'arm-only']);
      const w = p.status?.containerStatuses?.[0]?.state?.waiting;
      return w && /^(ErrImagePull|ImagePullBackOff)$/.test(w.reason ?? '') && w.message ? w : undefined;
    }, 60_000, 300).catch((err: unknown) => { throw new Error(`${String(err)}\nagent log:\n${agentLog()}`); });
    assert.match(waiting.message ?? '', 'no match for platform in manifest: the image has linux/arm64/v8, this node is linux/amd64');
    const events = await c.getJson<KubeList<Event>>(['get', 'events', '--field-selector', 'involvedObject.name=arm-only']);
    const failed = events.items.find((e) => e.reason === 'Failed' && e.type === 'Warning');
    assert.ok(failed, `a Failed event: ${JSON.stringify(events.items.map((e) => e.reason))}`);
    assert.match(failed!.message ?? '', 'linux/arm64/v8');
    // The image really was pulled (containerd had no objection), and yet nothing ran from it.
    assert.match((await lab.ctr('n1', ['images', 'ls', '-q'])).stdout, `${lab.controlIp}:5000/lab/arm-only:1`);
    const p = await c.getJson<Pod>(['get', 'pod', 'arm-only']);
    const uid = (p.metadata.uid ?? '').replace(/-/g, '').slice(0, 16);
    const containers = (await lab.ctr('n1', ['containers', 'ls', '-q'])).stdout.split('\n').filter((id) => id.startsWith(uid));
    assert.equal(containers, [], 'no container was created from the foreign image');
    assert.is(p.status?.containerStatuses?.[0]?.restartCount ?? 0, 0);
    assert.is(p.status?.phase, 'Pending');
  });

  test('a multi-arch index runs its amd64 variant on the amd64 node', async () => {
    const c = need();
    const l = lab!;
    const yaml = podYaml('multi', `${l.controlIp}:5001/lab/multi:1`, 'cat /platform; uname -m').replace('name: regcred', 'name: regcred2');
    await c.kubectlOk(['apply', '-f', '-'], yaml);
    await waitUntil('multi Succeeded', async () => (await c.getJson<Pod>(['get', 'pod', 'multi'])).status?.phase === 'Succeeded', 60_000, 300)
      .catch((err: unknown) => { throw new Error(`${String(err)}\nagent log:\n${agentLog()}`); });
    assert.is((await c.kubectlOk(['logs', 'multi'])).trim(), 'linux/amd64\nx86_64');
  });
}

test.run();
