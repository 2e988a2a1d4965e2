/**
 * The built-in ingress proxy in the lab (lab 'ingr', real containerd, iptables and curl): two
 * Ingresses with different hosts and paths route to the right backend pods from the control host
 * (a client on the LAN, not a node) over plain HTTP on every node; over TLS the certificate of a
 * Secret is chosen by SNI and verified by curl, other names get the fallback certificate; a WebSocket
 * echo passes through the proxy; ADDRESS lists the nodes; a missing Service answers 503 with a
 * Warning event, a missing Secret gives the fallback certificate with an event.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab } from './harness.js';
import { buildBusyboxImage } from './image.js';
import { labTierAvailable } from './prerequisites.js';
import { startLabCluster, type LabCluster } from './agent-cluster.js';
import type { Event, Node, Pod } from '../../api/types.js';
import type { Ingress } from '../../api/networking-types.js';
import type { KubeList } from '../../api/meta.js';
import { waitUntil } from '../support/wait.js';
import { createSelfSignedCert } from '../../agent/logs/tls.js';

const test = suite('ingress proxy in the lab');
const WS_ECHO = join(dirname(fileURLToPath(import.meta.url)), 'ws-echo.js');

let lab: Lab | undefined;
let cluster: LabCluster | undefined;
const need = (): { lab: Lab; c: LabCluster } => {
  if (!lab || !cluster) throw new Error('the lab cluster did not come up (see the first test)');
  return { lab, c: cluster };
};

/** A busybox httpd pod serving `text` at / and at /app/ and /app/x. */
const webPod = (name: string, app: string, node: string, text: string): string => `
apiVersion: v1
kind: Pod
metadata: { name: ${name}, labels: { app: ${app} } }
spec:
  nodeName: ${node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ['sh', '-c', 'mkdir -p /www/app && echo ${text} > /www/index.html && echo ${text}-app > /www/app/index.html && echo ${text}-x > /www/app/x && exec httpd -f -p 8080 -h /www']
    ports: [{ name: http, containerPort: 8080 }]
`;

const service = (name: string): string => `
apiVersion: v1
kind: Service
metadata: { name: ${name} }
spec:
  selector: { app: ${name} }
  ports: [{ name: http, port: 80, targetPort: http }]
`;

const INGRESSES = `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: alpha }
spec:
  tls: [{ hosts: [secure.lan], secretName: secure-tls }]
  rules:
  - host: alpha.lan
    http:
      paths:
      - { path: /, pathType: Prefix, backend: { service: { name: alpha, port: { number: 80 } } } }
      - { path: /app/x, pathType: Exact, backend: { service: { name: beta, port: { name: http } } } }
  - host: secure.lan
    http:
      paths:
      - { path: /, pathType: Prefix, backend: { service: { name: alpha, port: { number: 80 } } } }
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: beta }
spec:
  rules:
  - host: "*.beta.lan"
    http:
      paths:
      - { path: /app, pathType: Prefix, backend: { service: { name: beta, port: { number: 80 } } } }
  - host: ws.lan
    http:
      paths:
      - { path: /, pathType: Prefix, backend: { service: { name: echo, port: { number: 80 } } } }
`;

/** curl from the control host (a LAN client); `--resolve` stands in for the home router's DNS. */
async function curl(l: Lab, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return l.exec('control', ['curl', '-sS', '--max-time', '5', ...args], { timeoutMs: 10_000 });
}

async function get(l: Lab, host: string, node: string, path: string): Promise<string> {
  const r = await curl(l, ['-w', ' %{http_code}', '--resolve', `${host}:80:${l.node(node).ip}`, `http://${host}${path}`]);
  return r.code === 0 ? r.stdout.trim().replace(/\s+/g, ' ') : `curl ${r.code}: ${r.stderr.trim()}`;
}

function agentLog(name: string): string {
  const p = cluster?.agents.get(name);
  return p ? readFileSync(p.logFile, 'utf8').slice(-3000) : '';
}

if (labTierAvailable(test, 'ingress lab test')) {
  test.after(async () => {
    if (lab) {
      const report = await lab.destroy();
      if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
    }
  });

  test('two nodes, alpha and beta web pods, a WebSocket echo outside the cluster behind a selector-less Service, two Ingresses', async () => {
    lab = await createLab({ name: 'ingr', nodes: 2, lanCidr: '10.78.14.0/24' });
    const image = await buildBusyboxImage({ dir: '/tmp/corral-lab-images' });
    await Promise.all(lab.nodes.map((n) => lab!.importImage(n.name, image)));
    cluster = await startLabCluster(lab);
    const { c, lab: l } = need();
    assert.is((await l.exec('control', ['curl', '--version'])).code, 0, 'curl is needed (test/setup.sh installs it)');
    await waitUntil('2 Ready nodes', async () => {
      const list = (await c.getJson<KubeList<Node>>(['get', 'nodes'])).items;
      return list.filter((n) => n.spec?.podCIDR && n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')).length === 2;
    }, 60_000, 300).catch((err: unknown) => { throw new Error(`${String(err)}\nagent n1 log:\n${agentLog('n1')}`); });
    l.spawn('n2', [process.execPath, WS_ECHO, 'serve', l.node('n2').ip, '9000'], { logName: 'ws-echo' });
    await c.kubectlOk(['apply', '-f', '-'], [
      webPod('alpha-1', 'alpha', 'n1', 'alpha'), webPod('beta-1', 'beta', 'n2', 'beta'), service('alpha'), service('beta'),
      `apiVersion: v1\nkind: Service\nmetadata: { name: echo }\nspec:\n  ports: [{ port: 80, targetPort: 9000 }]`,
      `apiVersion: v1\nkind: Endpoints\nmetadata: { name: echo }\nsubsets: [{ addresses: [{ ip: ${l.node('n2').ip} }], ports: [{ port: 9000 }] }]`,
      INGRESSES,
    ].join('\n---\n'));
    await waitUntil('both web pods ready', async () => {
      const pods = (await c.getJson<KubeList<Pod>>(['get', 'pods'])).items;
      return pods.length === 2 && pods.every((p) => p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'));
    }, 90_000, 300).catch((err: unknown) => { throw new Error(`${String(err)}\nagent n1 log:\n${agentLog('n1')}`); });
  });

  test('plain HTTP: hosts and paths reach the right pods through either node; unknown hosts get 404', async () => {
    const { lab: l } = need();
    for (const node of ['n1', 'n2']) {
      await waitUntil(`alpha.lan answers through ${node}`, async () => (await get(l, 'alpha.lan', node, '/')) === 'alpha 200', 20_000, 300)
        .catch(async (err: unknown) => { throw new Error(`${String(err)}: ${await get(l, 'alpha.lan', node, '/')}\nagent ${node} log:\n${agentLog(node)}`); });
      assert.is(await get(l, 'alpha.lan', node, '/app/'), 'alpha-app 200', 'Prefix / of alpha');
      assert.is(await get(l, 'alpha.lan', node, '/app/x'), 'beta-x 200', 'the Exact path goes to beta');
      assert.is(await get(l, 'www.beta.lan', node, '/app/x'), 'beta-x 200', 'the wildcard host with its Prefix path');
      assert.is(await get(l, 'www.beta.lan', node, '/app/'), 'beta-app 200');
      assert.match(await get(l, 'www.beta.lan', node, '/'), / 404$/, 'no rule of *.beta.lan matches /');
      assert.match(await get(l, 'beta.lan', node, '/app/x'), / 404$/, 'the wildcard covers one label, not the bare domain');
      assert.match(await get(l, 'nobody.lan', node, '/'), / 404$/);
    }
  });

  test('ADDRESS lists both nodes; kubectl get ingress shows the class, hosts and ports', async () => {
    const { c, lab: l } = need();
    const ips = [l.node('n1').ip, l.node('n2').ip].join(',');
    await waitUntil('both nodes as the address', async () => {
      const out = await c.kubectlOk(['get', 'ingress']);
      return out.includes(`alpha   corral   alpha.lan,secure.lan   ${ips}   80, 443`) && out.includes(`beta    corral   *.beta.lan,ws.lan      ${ips}   80`) && out;
    }, 20_000, 300).catch(async (err: unknown) => { throw new Error(`${String(err)}\n${await c.kubectlOk(['get', 'ingress'])}`); });
  });

  test('TLS: the Secret\'s certificate by SNI, verified by curl; other names get the fallback certificate', async () => {
    const { c, lab: l } = need();
    const cert = await createSelfSignedCert({ commonName: 'secure.lan', dnsNames: ['secure.lan'], ips: [], lifetimeMs: 86400_000 });
    const certFile = join(l.dir, 'secure.crt');
    const keyFile = join(l.dir, 'secure.key');
    writeFileSync(certFile, cert.certPem);
    writeFileSync(keyFile, cert.keyPem, { mode: 0o600 });
    // Before the Secret exists: the fallback certificate, and an event on the Ingress.
    const fallbackSubject = async (name: string, node: string): Promise<string> => {
      const r = await l.exec('control', ['sh', '-c', `timeout 5 openssl s_client -connect ${l.node(node).ip}:443 -servername ${name} </dev/null 2>/dev/null | openssl x509 -noout -subject`]);
      return r.stdout.trim();
    };
    assert.match(await fallbackSubject('secure.lan', 'n1'), /corral ingress default certificate/);
    await waitUntil('a TLSSecretUnusable event on alpha', async () => {
      const events = (await c.getJson<KubeList<Event>>(['get', 'events', '--field-selector', 'involvedObject.name=alpha'])).items;
      return events.some((e) => e.reason === 'TLSSecretUnusable' && /secret "default\/secure-tls" not found/.test(e.message ?? ''));
    }, 20_000, 300);
    await c.kubectlOk(['create', 'secret', 'tls', 'secure-tls', '--cert', certFile, '--key', keyFile]);
    // The proxy reads the Secret on its next look (the Ingress is not changed): wait for it.
    for (const node of ['n1', 'n2']) {
      const ip = l.node(node).ip;
      const body = await waitUntil(`curl verifies secure.lan through ${node}`, async () => {
        const r = await curl(l, ['--cacert', certFile, '--resolve', `secure.lan:443:${ip}`, 'https://secure.lan/']);
        return r.code === 0 && r.stdout.trim();
      }, 90_000, 1_000);
      assert.is(body, 'alpha');
    }
    assert.match(await fallbackSubject('other.lan', 'n2'), /corral ingress default certificate/, 'a name no Ingress covers');
    const wrong = await curl(l, ['--cacert', certFile, '--resolve', `alpha.lan:443:${l.node('n1').ip}`, 'https://alpha.lan/']);
    assert.is(wrong.code, 60, 'curl refuses the fallback certificate for a name without TLS');
  });

  test('WebSocket: an echo passes through the proxy on both nodes', async () => {
    const { lab: l } = need();
    for (const node of ['n1', 'n2']) {
      const r = await waitUntil(`the echo through ${node}`, async () => {
        const out = await l.exec('control', [process.execPath, WS_ECHO, 'send', `ws://${l.node(node).ip}/chat`, 'ws.lan', `hi-${node}`], { timeoutMs: 15_000 });
        return out.code === 0 && out.stdout.trim();
      }, 20_000, 500);
      assert.is(r, `echo:hi-${node}:ws.lan`);
    }
  });

  test('a missing Service answers 503 with a ServiceNotFound event; the proxy keeps serving the rest', async () => {
    const { c, lab: l } = need();
    await c.kubectlOk(['create', 'ingress', 'ghost', '--rule=ghost.lan/*=ghost:80']);
    await waitUntil('ghost.lan answers 503', async () => / 503$/.test(await get(l, 'ghost.lan', 'n1', '/')), 20_000, 300);
    await waitUntil('a ServiceNotFound event', async () => {
      const events = (await c.getJson<KubeList<Event>>(['get', 'events', '--field-selector', 'involvedObject.name=ghost'])).items;
      return events.some((e) => e.type === 'Warning' && e.reason === 'ServiceNotFound');
    }, 20_000, 300);
    assert.is(await get(l, 'alpha.lan', 'n1', '/'), 'alpha 200');
    const ing = await c.getJson<Ingress>(['get', 'ingress', 'ghost']);
    assert.is(ing.spec?.ingressClassName, 'corral');
  });
}

test.run();
