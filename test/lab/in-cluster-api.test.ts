/**
 * In-cluster API access in the lab (real containerd, iptables, a joined agent node): a pod running as
 * a ServiceAccount finds its token, `ca.crt` and namespace at /var/run/secrets/kubernetes.io/
 * serviceaccount, reaches the API through $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (the
 * `kubernetes` ClusterIP, proxied to the server's advertised address on the control host), and its
 * mounted token lists the pods of its namespace as its Role allows and is refused (403) outside it.
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

    // The token the agent mounted (a pod-bound TokenRequest) is the pod's identity: with it, the
    // pod's namespace lists and Secrets are refused. (busybox's TLS client fails its handshake from
    // inside a pod, so the request is made with kubectl on the control host, with the pod's token.)
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
