/**
 * In-cluster API access in the lab (real containerd, iptables, a joined agent node): a pod running as
 * a ServiceAccount finds its token, `ca.crt` and namespace at /var/run/secrets/kubernetes.io/
 * serviceaccount and, as client-go's in-cluster config does, reaches the API at
 * $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (the `kubernetes` ClusterIP, proxied to the
 * server's advertised address on the control host) and at https://kubernetes.default.svc, verifying
 * the server with the mounted ca.crt; its token lists the pods of its namespace as its Role allows
 * and is refused (403) outside it.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createLab, type Lab } from './harness.js';
import { buildBusyboxImage } from './image.js';
import { labTierAvailable } from './prerequisites.js';
import { startLabCluster, type LabCluster } from './agent-cluster.js';
import type { KubeList } from '../../api/meta.js';
import type { Node, Pod } from '../../api/types.js';
import { waitUntil } from '../support/wait.js';

const IMAGE_CACHE = '/tmp/corral-lab-images';
const test = suite('in-cluster API access in the lab');
const NS = 'apps';
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

let lab: Lab | undefined;
let cluster: LabCluster | undefined;

const MANIFEST = `
apiVersion: v1
kind: Namespace
metadata: { name: ${NS} }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: lister, namespace: ${NS} }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: pod-lister, namespace: ${NS} }
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: pod-lister, namespace: ${NS} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-lister }
subjects:
- { kind: ServiceAccount, name: lister, namespace: ${NS} }
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: ${NS} }
spec:
  serviceAccountName: lister
  terminationGracePeriodSeconds: 1
  containers:
  - name: client
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ['sleep', '3600']
    # The node's own node binary is the in-pod HTTPS client (busybox's TLS cannot verify a CA).
    volumeMounts:
    - { name: node, mountPath: /usr/bin/node, readOnly: true }
    - { name: usrlib, mountPath: /usr/lib, readOnly: true }
    - { name: lib, mountPath: /lib, readOnly: true }
    - { name: lib64, mountPath: /lib64, readOnly: true }
  volumes:
  - { name: node, hostPath: { path: /usr/bin/node } }
  - { name: usrlib, hostPath: { path: /usr/lib } }
  - { name: lib, hostPath: { path: /usr/lib } }
  - { name: lib64, hostPath: { path: /lib64 } }
`;

/**
 * What an in-cluster client does: GET `url` (default: the kubernetes ClusterIP from the environment)
 * with the mounted token, verifying the server against the mounted ca.crt. Prints `<status> <body>`.
 */
const HTTPS_GET = `
const fs = require('fs'); const https = require('https');
const dir = '${SA_DIR}';
const [path, base] = process.argv.slice(1);
const url = (base || 'https://' + process.env.KUBERNETES_SERVICE_HOST + ':' + process.env.KUBERNETES_SERVICE_PORT) + path;
https.get(url, { ca: fs.readFileSync(dir + '/ca.crt'), headers: { authorization: 'Bearer ' + fs.readFileSync(dir + '/token', 'utf8') } }, (res) => {
  let body = ''; res.on('data', (d) => { body += d; }); res.on('end', () => console.log(res.statusCode + ' ' + body));
}).on('error', (e) => { console.log('ERR ' + e.message); process.exitCode = 1; });
`;

if (labTierAvailable(test, 'in-cluster API lab test')) {
  test.after(async () => {
    if (lab) {
      const report = await lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
  });

  test('a pod lists its namespace\'s pods with its mounted token and is refused outside its Role', async () => {
    lab = await createLab({ name: 'incluster', nodes: 1 });
    const image = await buildBusyboxImage({ dir: IMAGE_CACHE });
    await lab.importImage('n1', image);
    cluster = await startLabCluster(lab);
    const c = cluster;
    const agentLog = (): string => readFileSync(c.agents.get('n1')!.logFile, 'utf8').slice(-3000);
    await waitUntil('n1 Ready', async () => {
      const nodes = (await c.getJson<KubeList<Node>>(['get', 'nodes'])).items;
      return nodes.some((n) => n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'));
    }, 60_000);
    await c.kubectlOk(['apply', '-f', '-'], MANIFEST);
    await waitUntil('the client pod running', async () => {
      const p = await c.getJson<Pod>(['get', 'pod', 'client', '-n', NS]);
      return p.status?.phase === 'Running';
    }, 90_000).catch((err: unknown) => { throw new Error(`${String(err)}\nagent log:\n${agentLog()}`); });

    const files = await c.kubectlOk(['exec', '-n', NS, 'client', '--', 'sh', '-c', `cat ${SA_DIR}/namespace; echo; head -1 ${SA_DIR}/ca.crt; echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`]);
    const [ns, caLine, hostPort] = files.trim().split('\n');
    assert.is(ns, NS);
    assert.is(caLine, '-----BEGIN CERTIFICATE-----');
    assert.match(hostPort ?? '', /^10\.\d+\.\d+\.\d+:443$/);

    // From inside the pod, as client-go's in-cluster config does: $KUBERNETES_SERVICE_HOST, the
    // mounted token, the server verified against the mounted ca.crt.
    const inPod = async (path: string, base = ''): Promise<{ status: string; body: string }> => {
      const out = (await c.kubectlOk(['exec', '-n', NS, 'client', '--', '/usr/bin/node', '-e', HTTPS_GET, path, base])).trim();
      const space = out.indexOf(' ');
      return { status: out.slice(0, space), body: out.slice(space + 1) };
    };
    const own = await inPod(`/api/v1/namespaces/${NS}/pods`);
    assert.is(own.status, '200', own.body);
    assert.ok((JSON.parse(own.body) as KubeList<Pod>).items.some((p) => p.metadata.name === 'client'), 'sees itself');
    const refused = await inPod(`/api/v1/namespaces/${NS}/secrets`);
    assert.is(refused.status, '403');
    assert.match(refused.body, `User \\"system:serviceaccount:${NS}:lister\\" cannot list resource \\"secrets\\"`);
    assert.is((await inPod('/api/v1/namespaces/default/pods')).status, '403');
    // And by the cluster DNS name.
    assert.is((await inPod(`/api/v1/namespaces/${NS}/pods`, 'https://kubernetes.default.svc')).status, '200');

    // The same token used from outside (kubectl on the control host).
    const token = (await c.kubectlOk(['exec', '-n', NS, 'client', '--', 'cat', `${SA_DIR}/token`])).trim();
    const asPod = (args: string[]) => c.kubectl(['--token', token, ...args]);
    const list = await asPod(['get', 'pods', '-n', NS, '-o', 'name']);
    assert.is(list.code, 0, list.stderr);
    assert.match(list.stdout, 'pod/client');
    const secrets = await asPod(['get', 'secrets', '-n', NS]);
    assert.match(secrets.stderr, `secrets is forbidden: User "system:serviceaccount:${NS}:lister" cannot list resource "secrets" in API group "" in the namespace "${NS}"`);
    const elsewhere = await asPod(['get', 'pods', '-n', 'default']);
    assert.match(elsewhere.stderr, `cannot list resource "pods" in API group "" in the namespace "default"`);
    const whoami = await asPod(['auth', 'whoami']);
    assert.match(whoami.stdout, /authentication\.kubernetes\.io\/pod-name\s+\[client\]/);
    // The pod reaches the API through the kubernetes ClusterIP: nc connects (0); a refused or
    // unreachable address makes it give up with 1 (checked on a port nothing serves).
    const reach = (port: string) => c.kubectl(['exec', '-n', NS, 'client', '--', 'sh', '-c', `timeout 4 nc -w 2 $KUBERNETES_SERVICE_HOST ${port} </dev/null; echo rc=$?`]);
    assert.match((await reach('$KUBERNETES_SERVICE_PORT')).stdout, 'rc=0');
    assert.not.match((await reach('444')).stdout, 'rc=0', 'a port the service does not have');
  });
}

test.run();
