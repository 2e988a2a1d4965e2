/**
 * Cluster DNS in the lab: two nodes with real containerd and iptables, each agent answering the
 * cluster DNS IP on its own node; the "outside" resolver is a fake DNS server on the lab's control
 * host (the agents' --resolv-conf names it). Covers the issue's "Must show": from a busybox pod,
 * `web`, `web.other`, `web.other.svc.cluster.local`, a headless service (drops an unready pod), an
 * ExternalName CNAME and an outside name; SRV and PTR with dig against the cluster DNS IP; a new
 * Service resolving on every node within a second; dnsPolicy Default, None + dnsConfig and hostAliases
 * files; a StatefulSet-style FQDN; and, with the server stopped, cached names still resolving and
 * pods still reaching each other by name.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab, type LabProcess } from './harness.js';
import { buildBusyboxImage } from './image.js';
import { labTierAvailable } from './prerequisites.js';
import { startLabCluster, type LabCluster } from './agent-cluster.js';
import type { Node, Pod, Service } from '../../api/types.js';
import type { KubeList } from '../../api/meta.js';
import { waitUntil } from '../support/wait.js';

const IMAGE_CACHE = '/tmp/corral-lab-images';
const CLUSTER_DNS = '10.43.0.10';
const FAKE_DNS = join(dirname(fileURLToPath(import.meta.url)), 'fake-dns.js');
const test = suite('cluster DNS in the lab');

let lab: Lab | undefined;
let cluster: LabCluster | undefined;
let upstream: LabProcess | undefined;
const need = (): { lab: Lab; c: LabCluster } => {
  if (!lab || !cluster) throw new Error('the lab cluster did not come up (see the first test)');
  return { lab, c: cluster };
};

function agentLogs(name: string): string {
  const p = cluster?.agents.get(name);
  return p ? readFileSync(p.logFile, 'utf8').slice(-4000) : '';
}

const APPS = `
apiVersion: v1
kind: Namespace
metadata: { name: other }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: busybox
        imagePullPolicy: IfNotPresent
        command: ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www']
        ports: [{ name: http, containerPort: 80 }]
        readinessProbe: { exec: { command: ['sh', '-c', 'test ! -f /tmp/notready'] }, periodSeconds: 1, failureThreshold: 1 }
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: http }]
---
apiVersion: v1
kind: Service
metadata: { name: db }
spec:
  clusterIP: None
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: http }]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: other }
spec:
  ports: [{ port: 8080 }]
---
apiVersion: v1
kind: Service
metadata: { name: ext }
spec:
  type: ExternalName
  externalName: api.example.org
---
apiVersion: v1
kind: Service
metadata: { name: dbset }
spec:
  clusterIP: None
  selector: { app: dbset }
  ports: [{ name: pg, port: 5432 }]
---
apiVersion: v1
kind: Pod
metadata: { name: db-0, labels: { app: dbset } }
spec:
  hostname: db-0
  subdomain: dbset
  nodeName: n2
  terminationGracePeriodSeconds: 1
  containers: [{ name: c, image: busybox, imagePullPolicy: IfNotPresent, command: ['sleep', '3600'] }]
---
apiVersion: v1
kind: Pod
metadata: { name: client }
spec:
  nodeName: n1
  terminationGracePeriodSeconds: 1
  hostAliases: [{ ip: 10.9.9.9, hostnames: [foo.local, bar.local] }]
  containers: [{ name: c, image: busybox, imagePullPolicy: IfNotPresent, command: ['sleep', '3600'] }]
---
apiVersion: v1
kind: Pod
metadata: { name: plain-default }
spec:
  nodeName: n2
  dnsPolicy: Default
  terminationGracePeriodSeconds: 1
  containers: [{ name: c, image: busybox, imagePullPolicy: IfNotPresent, command: ['sleep', '3600'] }]
---
apiVersion: v1
kind: Pod
metadata: { name: custom-dns }
spec:
  nodeName: n2
  dnsPolicy: None
  dnsConfig:
    nameservers: [10.9.9.53]
    searches: [corp.example]
    options: [{ name: ndots, value: '2' }, { name: edns0 }]
  terminationGracePeriodSeconds: 1
  containers: [{ name: c, image: busybox, imagePullPolicy: IfNotPresent, command: ['sleep', '3600'] }]
`;

/** A pod on one node answering /cgi-bin/ip with the client address it sees. */
function echoPod(node: string): string {
  return `
apiVersion: v1
kind: Pod
metadata: { name: echo-${node}, labels: { app: echo } }
spec:
  nodeName: ${node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'mkdir -p /www/cgi-bin && printf "#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho \\$REMOTE_ADDR\\n" > /www/cgi-bin/ip && chmod +x /www/cgi-bin/ip && exec httpd -f -p 80 -h /www']
    ports: [{ name: http, containerPort: 80 }]
`;
}

const POLICIES = `
apiVersion: v1
kind: Service
metadata: { name: echo-local }
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: { app: echo, only: n1 }
  ports: [{ name: http, port: 80, targetPort: http, nodePort: 30081 }]
---
apiVersion: v1
kind: Service
metadata: { name: echo-cluster }
spec:
  type: NodePort
  selector: { app: echo, only: n1 }
  ports: [{ name: http, port: 80, targetPort: http, nodePort: 30082 }]
---
apiVersion: v1
kind: Service
metadata: { name: echo-internal-local }
spec:
  internalTrafficPolicy: Local
  selector: { app: echo, only: n1 }
  ports: [{ name: http, port: 80, targetPort: http }]
`;

/** busybox httpd listens dual-stack: REMOTE_ADDR reads `[::ffff:10.77.0.10]`. */
function plainIp(text: string): string {
  return text.trim().replace(/^\[(?:::ffff:)?/, '').replace(/\]$/, '');
}

function ready(p: Pod): boolean {
  return p.status?.phase === 'Running' && (p.status.conditions ?? []).some((x) => x.type === 'Ready' && x.status === 'True');
}

/** busybox nslookup in the client pod: the addresses of the answer (the server's own lines skipped). */
async function lookup(c: LabCluster, name: string, pod = 'client'): Promise<{ addresses: string[]; text: string }> {
  const r = await c.kubectl(['exec', pod, '--', 'nslookup', '-type=a', name]);
  const text = `${r.stdout}${r.stderr}`;
  const answer = text.split(/Non-authoritative answer:|\n\n/).slice(1).join('\n');
  const addresses = [...answer.matchAll(/Address:\s+(\d+\.\d+\.\d+\.\d+)(?!:)/g)].map((m) => m[1]!).filter((a) => a !== CLUSTER_DNS).sort();
  return { addresses, text };
}

/**
 * The address the pod's C library resolver (glibc in busybox-static, with the pod's search list and
 * ndots) gives a name, read from ping's first line (the ping itself may fail: ClusterIPs answer no ICMP).
 */
async function libcResolve(c: LabCluster, name: string): Promise<string> {
  const r = await c.kubectl(['exec', 'client', '--', 'ping', '-c', '1', '-W', '1', name]);
  return /^PING \S+ \((\d+\.\d+\.\d+\.\d+)\)/m.exec(r.stdout)?.[1] ?? `unresolved: ${r.stdout}${r.stderr}`;
}

async function dig(l: Lab, node: string, args: readonly string[]): Promise<string> {
  const r = await l.exec(node, ['dig', '+short', '+time=1', '+tries=1', `@${CLUSTER_DNS}`, ...args], { timeoutMs: 5_000 });
  return r.stdout.trim();
}

if (labTierAvailable(test, 'cluster DNS lab test')) {
  test.after(async () => {
    upstream?.child.kill('SIGTERM');
    if (lab) {
      const report = await lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
  });

  test('two agents come up with a fake outside resolver; kube-dns is a real Service at the cluster DNS IP', async () => {
    lab = await createLab({ name: 'dnslab', nodes: 2 });
    const image = await buildBusyboxImage({ dir: IMAGE_CACHE });
    await Promise.all(lab.nodes.map((n) => lab!.importImage(n.name, image)));
    upstream = lab.spawn('control', [process.execPath, FAKE_DNS, lab.controlIp, '53', JSON.stringify({ 'example.com': ['203.0.113.5'], 'api.example.org': ['203.0.113.9'] })], { logName: 'fake-dns' });
    const resolvConf = join(lab.dir, 'upstream-resolv.conf');
    writeFileSync(resolvConf, `nameserver ${lab.controlIp}\nsearch lab.example\n`);
    cluster = await startLabCluster(lab, { agentArgs: ['--resolv-conf', resolvConf] });
    const { c } = need();
    await waitUntil('2 Ready nodes', async () => {
      const list = (await c.getJson<KubeList<Node>>(['get', 'nodes'])).items;
      return list.filter((n) => n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')).length === 2;
    }, 60_000).catch((err: unknown) => { throw new Error(`${String(err)}\nagent n1 log:\n${agentLogs('n1')}`); });
    const kubeDns = await c.getJson<Service>(['get', 'service', '-n', 'kube-system', 'kube-dns']);
    assert.is(kubeDns.spec.clusterIP, CLUSTER_DNS);
    assert.equal(kubeDns.spec.ports?.map((p) => `${p.port}/${p.protocol}`), ['53/UDP', '53/TCP']);
  });

  test('pods get resolv.conf and hosts for ClusterFirst, Default, None + dnsConfig and hostAliases', async () => {
    const { c } = need();
    await c.kubectlOk(['apply', '-f', '-'], APPS);
    await waitUntil('every pod ready', async () => {
      const pods = (await c.getJson<KubeList<Pod>>(['get', 'pods'])).items;
      return pods.length === 6 && pods.every(ready);
    }, 120_000).catch(async (err: unknown) => { throw new Error(`${String(err)}\n${(await c.kubectl(['get', 'pods', '-o', 'wide'])).stdout}\n${agentLogs('n1')}`); });
    assert.is(await c.kubectlOk(['exec', 'client', '--', 'cat', '/etc/resolv.conf']),
      `search default.svc.cluster.local svc.cluster.local cluster.local lab.example\nnameserver ${CLUSTER_DNS}\noptions ndots:5\n`);
    assert.is(await c.kubectlOk(['exec', 'plain-default', '--', 'cat', '/etc/resolv.conf']), `search lab.example\nnameserver ${need().lab.controlIp}\n`);
    assert.is(await c.kubectlOk(['exec', 'custom-dns', '--', 'cat', '/etc/resolv.conf']), 'search corp.example\nnameserver 10.9.9.53\noptions ndots:2 edns0\n');
    const hosts = await c.kubectlOk(['exec', 'client', '--', 'cat', '/etc/hosts']);
    const client = await c.getJson<Pod>(['get', 'pod', 'client']);
    assert.match(hosts, /^# Kubernetes-managed hosts file\.\n127\.0\.0\.1\tlocalhost\n/);
    assert.ok(hosts.includes(`\n${client.status!.podIP}\tclient\n`), hosts);
    assert.ok(hosts.endsWith('# Entries added by HostAliases.\n10.9.9.9\tfoo.local\tbar.local\n'), hosts);
    const db0 = await c.getJson<Pod>(['get', 'pod', 'db-0']);
    assert.ok((await c.kubectlOk(['exec', 'db-0', '--', 'cat', '/etc/hosts'])).includes(`\n${db0.status!.podIP}\tdb-0.dbset.default.svc.cluster.local\tdb-0\n`));
  });

  test('from a busybox pod: web, web.other, web.other.svc.cluster.local, ExternalName, outside name, StatefulSet FQDN', async () => {
    const { c } = need();
    const web = await c.getJson<Service>(['get', 'service', 'web']);
    const otherWeb = await c.getJson<Service>(['get', 'service', '-n', 'other', 'web']);
    // The application's path: the C library resolver with the pod's search list.
    assert.is(await libcResolve(c, 'web'), web.spec.clusterIP);
    assert.is(await libcResolve(c, 'web.other'), otherWeb.spec.clusterIP);
    assert.is(await libcResolve(c, 'web.other.svc.cluster.local'), otherWeb.spec.clusterIP);
    // And nslookup (busybox searches only names without a dot).
    assert.equal((await lookup(c, 'web')).addresses, [web.spec.clusterIP]);
    assert.equal((await lookup(c, 'web.other.svc.cluster.local')).addresses, [otherWeb.spec.clusterIP]);
    const ext = await lookup(c, 'ext');
    assert.match(ext.text, /ext\.default\.svc\.cluster\.local\s+canonical name = api\.example\.org/);
    assert.equal(ext.addresses, ['203.0.113.9']);
    assert.equal((await lookup(c, 'example.com')).addresses, ['203.0.113.5'], 'outside name through the fake upstream');
    const db0 = await c.getJson<Pod>(['get', 'pod', 'db-0']);
    assert.equal((await lookup(c, 'db-0.dbset.default.svc.cluster.local')).addresses, [db0.status!.podIP]);
    // And the name really reaches the service.
    assert.match(await c.kubectlOk(['exec', 'client', '--', 'sh', '-c', 'timeout 5 wget -q -O - http://web/']), /\S/);
  });

  test('headless service: every ready pod IP; a pod turning unready drops out', async () => {
    const { c } = need();
    const pods = (await c.getJson<KubeList<Pod>>(['get', 'pods', '-l', 'app=web'])).items;
    const ips = pods.map((p) => p.status!.podIP!).sort();
    assert.equal((await lookup(c, 'db')).addresses, ips);
    await c.kubectlOk(['exec', pods[0]!.metadata.name!, '--', 'touch', '/tmp/notready']);
    const left = ips.filter((ip) => ip !== pods[0]!.status!.podIP);
    await waitUntil('the unready pod leaves the headless answer', async () => JSON.stringify((await lookup(c, 'db')).addresses) === JSON.stringify(left), 20_000);
    await c.kubectlOk(['exec', pods[0]!.metadata.name!, '--', 'rm', '/tmp/notready']);
    await waitUntil('it comes back', async () => (await lookup(c, 'db')).addresses.length === 2, 20_000);
  });

  test('SRV and PTR with dig against the cluster DNS IP, on both nodes', async () => {
    const { c, lab: l } = need();
    const web = await c.getJson<Service>(['get', 'service', 'web']);
    const db0 = await c.getJson<Pod>(['get', 'pod', 'db-0']);
    for (const node of ['n1', 'n2']) {
      assert.is(await dig(l, node, ['SRV', '_http._tcp.web.default.svc.cluster.local']), '0 100 80 web.default.svc.cluster.local.');
      assert.is(await dig(l, node, ['SRV', '_pg._tcp.dbset.default.svc.cluster.local']), '0 100 5432 db-0.dbset.default.svc.cluster.local.');
      assert.is(await dig(l, node, ['-x', web.spec.clusterIP!]), 'web.default.svc.cluster.local.');
      assert.is(await dig(l, node, ['-x', db0.status!.podIP!]), 'db-0.dbset.default.svc.cluster.local.');
      assert.is(await dig(l, node, ['+tcp', 'web.default.svc.cluster.local']), web.spec.clusterIP!, 'TCP too');
    }
  });

  test('a Service created on the server resolves on every node within 1 s', async () => {
    const { c, lab: l } = need();
    const svc = JSON.parse(await c.kubectlOk(['create', 'service', 'clusterip', 'fresh', '--tcp=80:80', '-o', 'json'])) as Service;
    const created = Date.now();
    const seen = await Promise.all(['n1', 'n2'].map(async (node) => {
      await waitUntil(`fresh resolves on ${node}`, async () => (await dig(l, node, ['fresh.default.svc.cluster.local'])) === svc.spec.clusterIP, 5_000, 20);
      return Date.now() - created;
    }));
    process.stdout.write(`new Service resolvable after ${seen.join(' / ')} ms (n1 / n2, including dig start-up)\n`);
    for (const ms of seen) assert.ok(ms <= 1_000, `took ${ms} ms`);
  });

  test('the proxy follows EndpointSlices; externalTrafficPolicy Local keeps the client address and local endpoints; internalTrafficPolicy Local', async () => {
    const { c, lab: l } = need();
    await c.kubectlOk(['apply', '-f', '-'], echoPod('n1').replace('labels: { app: echo }', 'labels: { app: echo, only: n1 }'));
    await c.kubectlOk(['apply', '-f', '-'], POLICIES);
    await waitUntil('echo pod ready', async () => ready(await c.getJson<Pod>(['get', 'pod', 'echo-n1'])), 60_000);
    const get = async (host: string, url: string): Promise<string> => {
      const r = await l.exec(host, ['sh', '-c', `timeout 3 busybox wget -q -O - ${url}`], { timeoutMs: 8_000 });
      return r.code === 0 ? plainIp(r.stdout) : `failed (${r.code})`;
    };
    const n1 = l.node('n1').ip;
    const n2 = l.node('n2').ip;
    /** A node's nat rules for the echo Services, for a failure's message. */
    const echoNatRules = async (node: string): Promise<string> => (await l.exec(node, ['iptables-save', '-t', 'nat'])).stdout.split('\n').filter((x) => x.includes('echo')).join('\n');
    await waitUntil('the local node port answers', async () => (await get('control', `http://${n1}:30081/cgi-bin/ip`)) === l.controlIp, 20_000).catch(async (err: unknown) => {
      const pod = await c.getJson<Pod>(['get', 'pod', 'echo-n1']);
      const r = await l.exec('control', ['sh', '-c', `timeout 3 busybox wget -O - http://${n1}:30081/cgi-bin/ip; timeout 3 busybox wget -O - http://${n2}:30082/cgi-bin/ip`]);
      const direct = await l.exec('n1', ['sh', '-c', `timeout 3 busybox wget -O - http://${pod.status?.podIP}/cgi-bin/ip`]);
      throw new Error(`${String(err)}\nfrom control: ${r.stdout}${r.stderr}\ndirect: ${direct.stdout}${direct.stderr}\n${await echoNatRules('n1')}`);
    });
    // n2's agent programs the same Services from the same EndpointSlices on its own schedule: wait for its
    // node port too (one sample taken while n2 was still behind n1 failed a CI run), then assert.
    await waitUntil('n2 forwards the Cluster-policy node port', async () => (await get('control', `http://${n2}:30082/cgi-bin/ip`)) === n2 || undefined, 20_000).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${await echoNatRules('n2')}`);
    });
    assert.is(await get('control', `http://${n1}:30081/cgi-bin/ip`), l.controlIp, 'externalTrafficPolicy Local: the pod sees the client');
    assert.match(await get('control', `http://${n2}:30081/cgi-bin/ip`), /^failed/, 'no local endpoint on n2: nothing answers there');
    assert.is(await get('control', `http://${n2}:30082/cgi-bin/ip`), n2, 'Cluster policy: reachable from every node, masqueraded');
    const internal = await c.getJson<Service>(['get', 'service', 'echo-internal-local']);
    const fromPod = async (pod: string): Promise<string> => {
      const r = await c.kubectl(['exec', pod, '--', 'sh', '-c', `timeout 3 wget -q -O - http://${internal.spec.clusterIP}/cgi-bin/ip`]);
      return r.code === 0 ? plainIp(r.stdout) : 'failed';
    };
    const client = await c.getJson<Pod>(['get', 'pod', 'client']);
    assert.is(await fromPod('client'), client.status!.podIP, 'internalTrafficPolicy Local from n1 reaches the n1 endpoint');
    assert.is(await fromPod('plain-default'), 'failed', 'and from n2, which has no endpoint of its own, nothing');
    // Headless and ExternalName Services are DNS only: no rules anywhere.
    const save = (await l.exec('n1', ['iptables-save', '-t', 'nat'])).stdout;
    assert.ok(save.includes('default/web:http cluster IP'), 'the proxy renders Services from EndpointSlices');
    assert.not.ok(save.includes('default/db'), 'headless: no proxy rules');
    assert.not.ok(save.includes('default/ext'), 'ExternalName: no proxy rules');
  });

  test('server stopped: cached names keep resolving, pods keep reaching each other by name', async () => {
    const { c, lab: l } = need();
    const web = await c.getJson<Service>(['get', 'service', 'web']);
    const client = await c.getJson<Pod>(['get', 'pod', 'client']);
    const containerId = client.status!.containerStatuses![0]!.containerID!.replace('containerd://', '');
    await c.stopServer();
    try {
      for (let round = 0; round < 3; round++) {
        for (const node of ['n1', 'n2']) assert.is(await dig(l, node, ['web.default.svc.cluster.local']), web.spec.clusterIP!);
        const r = await l.ctr('n1', ['task', 'exec', '--exec-id', `dns-${round}`, containerId, 'sh', '-c', 'nslookup -type=a web.other.svc.cluster.local && timeout 5 wget -q -O - http://web/'], { timeoutMs: 15_000 });
        assert.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
        assert.match(r.stdout, /Name:\s+web\.other\.svc\.cluster\.local/);
        assert.match(r.stdout, /web-/, 'the page of a web pod, fetched by name');
      }
    } finally {
      await c.startServer();
    }
  });
}

test.run();
