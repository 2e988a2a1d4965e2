/**
 * Ingress and IngressClass through a real `corral server` and real kubectl: the default class
 * `corral` exists and is given to an Ingress without a class (DefaultIngressClass), `kubectl get`
 * prints upstream's columns, bad Ingresses are refused with upstream's messages, the ingress-status
 * controller fills ADDRESS with the Ready nodes running the proxy (hollow nodes carrying the proxy
 * annotation), and the Node authorizer lets a node read Ingresses and only the Secrets an Ingress names
 * for TLS.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Ingress } from '../../api/networking-types.js';
import type { Node } from '../../api/types.js';
import { HollowNode } from '../support/hollow-node.js';
import { kubectl, ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

let server: ServerProcess | undefined;
const nodes: HollowNode[] = [];

test.after(async () => {
  for (const n of nodes) n.stop();
  await server?.destroy();
});

const run = async (args: string[], input?: string): Promise<string> => {
  const r = await kubectl(server!, args, input !== undefined ? { input } : {});
  assert.is(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

test('the default IngressClass corral exists; kubectl create ingress gets it; columns as upstream', async () => {
  server = await ServerProcess.start();
  const classes = await run(['get', 'ingressclass']);
  assert.match(classes, /^NAME\s+CONTROLLER\s+PARAMETERS\s+AGE\n/);
  assert.match(classes, /\ncorral\s+corral\.dev\/ingress-proxy\s+<none>\s+/);
  const ic = JSON.parse(await run(['get', 'ingressclass', 'corral', '-o', 'json'])) as { metadata: { annotations: Record<string, string> } };
  assert.is(ic.metadata.annotations['ingressclass.kubernetes.io/is-default-class'], 'true');

  await run(['create', 'ingress', 'web', '--rule=app.lan/*=web:80', '--rule=api.lan/v1=api:http,tls=api-tls']);
  const ing = JSON.parse(await run(['get', 'ingress', 'web', '-o', 'json'])) as Ingress;
  assert.is(ing.spec?.ingressClassName, 'corral', 'DefaultIngressClass admission filled the class');
  assert.equal(ing.spec?.rules?.map((r) => r.http?.paths[0]?.pathType), ['Prefix', 'Exact']);
  const table = await run(['get', 'ing']);
  assert.match(table, /^NAME\s+CLASS\s+HOSTS\s+ADDRESS\s+PORTS\s+AGE\n/);
  assert.match(table, /\nweb\s+corral\s+app\.lan,api\.lan\s+80, 443\s+/);
  const described = await run(['describe', 'ingress', 'web']);
  assert.match(described, /Ingress Class:\s+corral/);
  assert.match(described, /app\.lan\s+\n?\s*\/\s+web:80/);

  // An Ingress that names its class through the old annotation is left without a default.
  await run(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'other', annotations: { 'kubernetes.io/ingress.class': 'nginx' } },
    spec: { defaultBackend: { service: { name: 'web', port: { number: 80 } } } },
  }));
  const other = JSON.parse(await run(['get', 'ingress', 'other', '-o', 'json'])) as Ingress;
  assert.is(other.spec?.ingressClassName, undefined);
});

test('bad Ingresses are refused with upstream\'s messages', async () => {
  const r = await kubectl(server!, ['apply', '-f', '-'], { input: JSON.stringify({
    apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'bad' },
    spec: { rules: [{ host: '10.0.0.1', http: { paths: [{ path: 'nope', pathType: 'Prefix', backend: { service: { name: 'web' } } }] } }] },
  }) });
  assert.is(r.code, 1);
  assert.match(r.stderr, /The Ingress "bad" is invalid/);
  assert.match(r.stderr, /spec\.rules\[0\]\.host: Invalid value: "10\.0\.0\.1": must be a DNS name, not an IP address/);
  assert.match(r.stderr, /spec\.rules\[0\]\.http\.paths\[0\]\.path: Invalid value: "nope": must be an absolute path/);
  assert.match(r.stderr, /spec\.rules\[0\]\.http\.paths\[0\]\.backend: Required value: port name or number is required/);
  const empty = await kubectl(server!, ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'empty' }, spec: {} }) });
  assert.match(empty.stderr, /spec: Invalid value: .*either `defaultBackend` or `rules` must be specified/);
  const immutable = await kubectl(server!, ['patch', 'ingressclass', 'corral', '--type=merge', '-p', '{"spec":{"controller":"example.com/other"}}']);
  assert.match(immutable.stderr, /spec\.controller: Invalid value: "example\.com\/other": field is immutable/);
});

test('status.loadBalancer: the Ready nodes whose agent runs the proxy; other classes untouched', async () => {
  const s = server!;
  nodes.push(await HollowNode.start(s.client, { name: 'ing1', nodeIP: '10.200.9.11' }));
  nodes.push(await HollowNode.start(s.client, { name: 'ing2', nodeIP: '10.200.9.12' }));
  nodes.push(await HollowNode.start(s.client, { name: 'ing3', nodeIP: '10.200.9.13' }));
  for (const n of ['ing1', 'ing3']) await s.client.patch<Node>('Node', undefined, n, { metadata: { annotations: { 'ingress.corral.dev/proxy-ports': '80,443' } } });
  await waitUntil('web\'s ADDRESS lists the proxy nodes', async () => {
    const out = await run(['get', 'ingress', 'web']);
    return /\nweb\s+corral\s+app\.lan,api\.lan\s+10\.200\.9\.11,10\.200\.9\.13\s+80, 443/.test(out);
  }, 15_000, 200);
  // A proxy node going away leaves the list.
  await nodes[2]!.remove();
  await waitUntil('ing3 left the address list', async () => {
    const ing = await s.client.get<Ingress>('Ingress', 'default', 'web');
    return JSON.stringify(ing.status?.loadBalancer?.ingress) === JSON.stringify([{ ip: '10.200.9.11' }]);
  }, 15_000, 200);
  const other = await s.client.get<Ingress>('Ingress', 'default', 'other');
  assert.is(other.status?.loadBalancer?.ingress, undefined, 'an Ingress of another class gets no address from corral');
});

test('a node may read Ingresses and get the TLS Secrets they name, nothing else', async () => {
  await run(['create', 'secret', 'generic', 'api-tls', '--from-literal=tls.crt=x']);
  await run(['create', 'secret', 'generic', 'private', '--from-literal=password=x']);
  const can = async (...args: string[]): Promise<string> => {
    const r = await kubectl(server!, ['auth', 'can-i', ...args, '--as', 'system:node:ing1', '--as-group', 'system:nodes']);
    // kubectl prints the authorizer's reason after a "no".
    return r.stdout.trim().split(' ')[0] ?? '';
  };
  assert.is(await can('list', 'ingresses.networking.k8s.io', '-A'), 'yes');
  assert.is(await can('watch', 'ingressclasses.networking.k8s.io'), 'yes');
  assert.is(await can('get', 'secret/api-tls'), 'yes', 'named by web\'s spec.tls');
  assert.is(await can('get', 'secret/private'), 'no');
  assert.is(await can('list', 'secrets'), 'no');
  assert.is(await can('update', 'ingresses.networking.k8s.io/web'), 'no');
});

test.run();
