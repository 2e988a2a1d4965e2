/**
 * Admission webhooks served by a pod in the lab (real containerd, runc and pod networking): the
 * webhook (test/support/webhook-server.ts, run by the node's own `node` binary mounted into a busybox
 * container) listens on its pod IP behind a Service; corral's server on the control host calls it
 * through the Service's endpoints with the webhook's own CA. A validating webhook denies a ConfigMap
 * and a mutating webhook adds a label; with the webhook pod gone, failurePolicy Fail refuses writes
 * and Ignore lets them through. A pod whose RuntimeClass names a handler other than runc does not
 * start (FailedCreatePodSandBox), one whose class names runc does.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab } from './harness.js';
import { buildBusyboxImage } from './image.js';
import { labTierAvailable } from './prerequisites.js';
import { startLabCluster, type LabCluster } from './agent-cluster.js';
import { ensureTls } from '../../server/auth/pki.js';
import type { ConfigMap, Node, Pod } from '../../api/types.js';
import type { KubeList } from '../../api/meta.js';
import { waitUntil } from '../support/wait.js';

const IMAGE_CACHE = '/tmp/corral-lab-images';
const WEBHOOK_SERVER = join(dirname(fileURLToPath(import.meta.url)), '..', 'support', 'webhook-server.js');
const PORT = 8443;
const test = suite('admission webhooks served by a pod in the lab');

let lab: Lab | undefined;
let cluster: LabCluster | undefined;
let caPem = '';
const need = (): { lab: Lab; c: LabCluster } => {
  if (!lab || !cluster) throw new Error('the lab cluster did not come up (see the first test)');
  return { lab, c: cluster };
};

function logsOf(name: string): string {
  const p = name === 'server' ? cluster?.server : cluster?.agents.get(name);
  return p ? readFileSync(p.logFile, 'utf8').slice(-3000) : '';
}

function webhookPod(appDir: string): string {
  const hostPath = (name: string, path: string): string => `  - { name: ${name}, hostPath: { path: '${path}' } }\n`;
  return `apiVersion: v1
kind: Pod
metadata: { name: webhook, labels: { app: webhook } }
spec:
  nodeName: n1
  terminationGracePeriodSeconds: 0
  containers:
  - name: webhook
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ['/usr/bin/node', '/webhook/webhook-server.mjs', '${PORT}', '/webhook/server.crt', '/webhook/server.key', '0.0.0.0']
    ports: [{ name: https, containerPort: ${PORT} }]
    readinessProbe: { tcpSocket: { port: ${PORT} }, periodSeconds: 1 }
    volumeMounts:
    - { name: node, mountPath: /usr/bin/node, readOnly: true }
    - { name: usrlib, mountPath: /usr/lib, readOnly: true }
    - { name: lib, mountPath: /lib, readOnly: true }
    - { name: lib64, mountPath: /lib64, readOnly: true }
    - { name: app, mountPath: /webhook, readOnly: true }
  volumes:
${hostPath('node', '/usr/bin/node')}${hostPath('usrlib', '/usr/lib')}${hostPath('lib', '/usr/lib')}${hostPath('lib64', '/lib64')}${hostPath('app', appDir)}---
apiVersion: v1
kind: Service
metadata: { name: webhook }
spec:
  selector: { app: webhook }
  ports: [{ name: https, port: 443, targetPort: https }]
---
apiVersion: v1
kind: Namespace
metadata: { name: hooked, labels: { webhooks: enabled } }
`;
}

function configurations(failurePolicy: 'Fail' | 'Ignore'): string {
  const hook = (name: string, path: string): string => `- name: ${name}
  clientConfig:
    service: { namespace: default, name: webhook, path: ${path} }
    caBundle: ${Buffer.from(caPem).toString('base64')}
  rules: [{ operations: [CREATE, UPDATE], apiGroups: [''], apiVersions: [v1], resources: [configmaps] }]
  namespaceSelector: { matchLabels: { webhooks: enabled } }
  failurePolicy: ${failurePolicy}
  sideEffects: None
  timeoutSeconds: 5
  admissionReviewVersions: [v1]
`;
  return `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: { name: deny-forbidden }
webhooks:
${hook('deny.webhook.corral.dev', '/validate')}---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: { name: add-label }
webhooks:
${hook('label.webhook.corral.dev', '/mutate')}`;
}

if (labTierAvailable(test, 'admission webhook lab test')) {
  test.after(async () => {
    if (lab) {
      const report = await lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
  });

  test('a webhook pod comes up behind a Service the control host can reach', async () => {
    lab = await createLab({ name: 'cfwebhook', nodes: 1 });
    const image = await buildBusyboxImage({ dir: IMAGE_CACHE });
    await lab.importImage('n1', image);
    cluster = await startLabCluster(lab);
    const { c } = need();
    const node = await waitUntil('n1 Ready with a pod CIDR', async () => {
      const n = (await c.getJson<KubeList<Node>>(['get', 'nodes'])).items[0];
      return n?.spec?.podCIDR && n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ? n : undefined;
    }, 60_000).catch((err: unknown) => { throw new Error(`${String(err)}\nagent n1 log:\n${logsOf('n1')}`); });
    // The server reaches pods as a k3s server (itself a node) would: a route to n1's pod CIDR.
    const route = await lab.exec('control', ['ip', 'route', 'replace', node.spec!.podCIDR!, 'via', lab.node('n1').ip]);
    assert.is(route.code, 0, route.stderr);
    // The webhook's own CA and serving certificate for webhook.default.svc, and the server script.
    const appDir = join(lab.dir, 'webhook-app');
    mkdirSync(appDir, { recursive: true });
    caPem = (await ensureTls(appDir, ['webhook.default.svc'])).caPem;
    copyFileSync(WEBHOOK_SERVER, join(appDir, 'webhook-server.mjs'));
    await c.kubectlOk(['apply', '-f', '-'], webhookPod(appDir));
    await waitUntil('webhook pod ready', async () => {
      const p = await c.getJson<Pod>(['get', 'pod', 'webhook']);
      return p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True');
    }, 60_000).catch(async (err: unknown) => {
      const logs = await c.kubectl(['logs', 'webhook']);
      throw new Error(`${String(err)}\npod logs: ${logs.stdout}${logs.stderr}\nagent n1 log:\n${logsOf('n1')}`);
    });
    await waitUntil('webhook endpoints', async () => (await c.kubectl(['get', 'endpoints', 'webhook', '-o', 'jsonpath={.subsets[0].addresses[0].ip}'])).stdout.startsWith('10.'), 20_000);
  });

  test('a validating webhook denies a ConfigMap and a mutating webhook adds a label', async () => {
    const { c } = need();
    await c.kubectlOk(['apply', '-f', '-'], configurations('Fail'));
    await c.kubectlOk(['-n', 'hooked', 'create', 'configmap', 'fine', '--from-literal=a=b']);
    const fine = await c.getJson<ConfigMap>(['-n', 'hooked', 'get', 'configmap', 'fine']);
    assert.is(fine.metadata.labels?.['webhook.corral.dev/mutated'], 'yes', `server log:\n${logsOf('server')}`);
    const denied = await c.kubectl(['-n', 'hooked', 'create', 'configmap', 'nope', '--from-literal=forbidden=x']);
    assert.is(denied.code, 1);
    assert.match(denied.stderr, 'admission webhook "deny.webhook.corral.dev" denied the request: ConfigMaps may not carry the key "forbidden"');
    const logs = await c.kubectlOk(['logs', 'webhook']);
    assert.match(logs, '/validate CREATE nope allowed=false');
  });

  test('with the webhook pod gone: failurePolicy Fail refuses, Ignore lets the write through', async () => {
    const { c } = need();
    await c.kubectlOk(['delete', 'pod', 'webhook', '--wait=true']);
    await waitUntil('no webhook endpoints', async () => (await c.kubectl(['get', 'endpoints', 'webhook', '-o', 'jsonpath={.subsets[*].addresses[*].ip}'])).stdout.trim() === '', 20_000);
    const refused = await c.kubectl(['-n', 'hooked', 'create', 'configmap', 'while-down', '--from-literal=a=b']);
    assert.is(refused.code, 1);
    assert.match(refused.stderr, /Internal error occurred: failed calling webhook "label\.webhook\.corral\.dev"/);
    await c.kubectlOk(['apply', '-f', '-'], configurations('Ignore'));
    await c.kubectlOk(['-n', 'hooked', 'create', 'configmap', 'while-down', '--from-literal=forbidden=x']);
    const through = await c.getJson<ConfigMap>(['-n', 'hooked', 'get', 'configmap', 'while-down']);
    assert.is(through.metadata.labels, undefined, 'no webhook ran');
  });

  test('RuntimeClass: runc is the only handler a node has', async () => {
    const { c } = need();
    const pod = (name: string, cls: string): string => `apiVersion: v1
kind: Pod
metadata: { name: ${name} }
spec:
  nodeName: n1
  terminationGracePeriodSeconds: 0
  runtimeClassName: ${cls}
  containers: [{ name: c, image: busybox, imagePullPolicy: IfNotPresent, command: ['sleep', '3600'] }]
`;
    await c.kubectlOk(['apply', '-f', '-'], `apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: { name: kata }
handler: kata
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: { name: runc }
handler: runc
---
${pod('on-kata', 'kata')}---
${pod('on-runc', 'runc')}`);
    await waitUntil('on-runc running', async () => (await c.getJson<Pod>(['get', 'pod', 'on-runc'])).status?.phase === 'Running', 30_000);
    const event = await waitUntil('FailedCreatePodSandBox for on-kata', async () => {
      const out = await c.kubectl(['get', 'events', '--field-selector', 'involvedObject.name=on-kata,reason=FailedCreatePodSandBox', '-o', 'jsonpath={.items[0].message}']);
      return out.stdout.trim() || undefined;
    }, 30_000);
    assert.is(event, 'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to get sandbox runtime: no runtime for "kata" is configured');
    const kata = await c.getJson<Pod>(['get', 'pod', 'on-kata']);
    assert.is(kata.status?.phase, 'Pending');
    assert.is(kata.status?.containerStatuses?.[0]?.state?.waiting?.reason, 'ContainerCreating');
    await c.kubectlOk(['delete', 'pod', 'on-kata', 'on-runc', '--wait=false']);
  });
}

test.run();
