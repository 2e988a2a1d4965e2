/**
 * Node ports on the node's loopback address (lab 'nplo', real containerd and iptables): as with
 * kube-proxy's iptables mode, `wget 127.0.0.1:NODEPORT` on a node answers, from a pod on that node and
 * from a pod on another node, for the Cluster and the Local external traffic policy; the agent turned
 * route_localnet on and installed the guard that keeps LAN packets for 127.0.0.0/8 out.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createLab, type Lab } from './harness.js';
import { buildBusyboxImage } from './image.js';
import { labTierAvailable } from './prerequisites.js';
import { startLabCluster, type LabCluster } from './agent-cluster.js';
import type { Node, Pod } from '../../api/types.js';
import type { KubeList } from '../../api/meta.js';
import { waitUntil } from '../support/wait.js';

const test = suite('node ports on 127.0.0.1 in the lab');

let lab: Lab | undefined;
let cluster: LabCluster | undefined;
const need = (): { lab: Lab; c: LabCluster } => {
  if (!lab || !cluster) throw new Error('the lab cluster did not come up (see the first test)');
  return { lab, c: cluster };
};

const pod = (node: string): string => `
apiVersion: v1
kind: Pod
metadata: { name: web-${node}, labels: { app: web } }
spec:
  nodeName: ${node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www']
    ports: [{ name: http, containerPort: 80 }]
`;
const SERVICES = `
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  type: NodePort
  selector: { app: web }
  ports: [{ port: 80, targetPort: 80, nodePort: 30090 }]
---
apiVersion: v1
kind: Service
metadata: { name: web-local }
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: { app: web }
  ports: [{ port: 80, targetPort: 80, nodePort: 30091 }]
`;

/** `times` requests to `url` from inside `host`'s network namespace; the bodies, one per answer. */
async function fromNode(l: Lab, host: string, url: string, times: number): Promise<string[]> {
  const r = await l.exec(host, ['sh', '-c', `for i in $(seq ${times}); do timeout 3 busybox wget -q -O - ${url}; done`], { timeoutMs: times * 4_000 });
  return r.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
}

function agentLog(name: string): string {
  const p = cluster?.agents.get(name);
  return p ? readFileSync(p.logFile, 'utf8').slice(-3000) : '';
}

if (labTierAvailable(test, 'node port loopback lab test')) {
  test.after(async () => {
    if (lab) {
      const report = await lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
  });

  test('two nodes, a web pod on each, NodePort services with the Cluster and the Local policy', async () => {
    lab = await createLab({ name: 'nplo', nodes: 2 });
    const image = await buildBusyboxImage({ dir: '/tmp/corral-lab-images' });
    await Promise.all(lab.nodes.map((n) => lab!.importImage(n.name, image)));
    cluster = await startLabCluster(lab);
    const { c } = need();
    await waitUntil('2 Ready nodes', async () => {
      const list = (await c.getJson<KubeList<Node>>(['get', 'nodes'])).items;
      return list.filter((n) => n.spec?.podCIDR && n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')).length === 2;
    }, 60_000, 300).catch((err: unknown) => { throw new Error(`${String(err)}\nagent n1 log:\n${agentLog('n1')}`); });
    await c.kubectlOk(['apply', '-f', '-'], `${pod('n1')}---${pod('n2')}---${SERVICES}`);
    await waitUntil('both web pods ready', async () => {
      const pods = (await c.getJson<KubeList<Pod>>(['get', 'pods', '-l', 'app=web'])).items;
      return pods.length === 2 && pods.every((p) => p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'));
    }, 90_000, 300).catch((err: unknown) => { throw new Error(`${String(err)}\nagent n1 log:\n${agentLog('n1')}`); });
  });

  test('wget 127.0.0.1:NODEPORT on a node answers, from the pod on that node and from the one on the other node', async () => {
    const { lab: l } = need();
    const bodies = await waitUntil('both pods answer on n1\'s 127.0.0.1:30090', async () => {
      const got = await fromNode(l, 'n1', 'http://127.0.0.1:30090/', 16);
      // Converged: every request answered, by both pods. A sample taken while the other node's route or
      // rules are still being programmed can see both pods and yet lose a request (1 run in 5 did).
      return new Set(got).size === 2 && got.length === 16 ? got : undefined;
    }, 30_000, 500).catch(async (err: unknown) => {
      const save = await l.exec('n1', ['iptables-save']);
      throw new Error(`${String(err)}\n${save.stdout}\nagent n1 log:\n${agentLog('n1')}`);
    });
    assert.is(bodies.length, 16, 'every request answered');
    assert.equal(new Set(bodies), new Set(['web-n1', 'web-n2']));
    // The same on the other node, and the node's own address still works.
    assert.equal(new Set(await fromNode(l, 'n2', 'http://127.0.0.1:30090/', 16)), new Set(['web-n1', 'web-n2']));
    assert.is((await fromNode(l, 'n2', `http://${l.node('n2').ip}:30090/`, 4)).length, 4);
  });

  test('externalTrafficPolicy Local: the node\'s own loopback still answers (masqueraded, cluster path)', async () => {
    const { lab: l } = need();
    for (const node of ['n1', 'n2']) {
      const got = await fromNode(l, node, 'http://127.0.0.1:30091/', 8);
      assert.is(got.length, 8, `${node}: every request answered`);
      assert.ok(got.every((b) => b === 'web-n1' || b === 'web-n2'), got.join(','));
    }
    // Outside clients still reach only the local pod.
    const outside = await fromNode(l, 'control', `http://${l.node('n2').ip}:30091/`, 6);
    assert.equal([...new Set(outside)], ['web-n2']);
  });

  test('route_localnet is on and the localnet guard (drop LAN packets for 127.0.0.0/8) is installed', async () => {
    const { lab: l } = need();
    assert.is((await l.exec('n1', ['cat', '/proc/sys/net/ipv4/conf/all/route_localnet'])).stdout.trim(), '1');
    const filter = (await l.exec('n1', ['iptables-save', '-t', 'filter'])).stdout;
    assert.match(filter, /-A INPUT -m comment --comment "corral localnet guard" -j CORRAL-FIREWALL/);
    assert.match(filter, /-A CORRAL-FIREWALL ! -s 127\.0\.0\.0\/8 -d 127\.0\.0\.0\/8 .* -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP/);
  });
}

test.run();
