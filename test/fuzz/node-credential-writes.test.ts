/**
 * Fuzz: random writes with node credentials against the authorization matrix, on a real `corral
 * server`. Two nodes act (fz1, fz2); a third (fzv) is the victim whose credential is never used.
 * Each case is either an attack (a write the Node authorizer and NodeRestriction must refuse: another
 * node's Node, status, Lease, kubelet Secret or pods, a Secret or workload of anyone, a pod IP outside
 * the node's CIDR) with a random, often mutated body, or a write an agent legitimately makes, with
 * random values. Pass: no attack is ever answered 2xx, every legitimate write succeeds, no 5xx, the
 * victim's objects are untouched, every stored pod IP lies in its node's pod CIDR, everything stored
 * validates, and the server is alive with no error-level log line.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { BlockList } from 'node:net';
import type { KubeObject } from '../../api/meta.js';
import { RESOURCES, resourceForKind } from '../../api/resources.js';
import type { Node, Pod } from '../../api/types.js';
import { validateObject } from '../../api/validation/index.js';
import { TokenStore } from '../../server/auth/tokens.js';
import { ServerProcess } from '../support/server-process.js';
import { fuzzCount, fuzzSeed, mutate, rawRequest, Rng, runCases, validObject } from '../support/fuzz.js';

const NODES = ['fz1', 'fz2', 'fzv'] as const;
const ACTORS = ['fz1', 'fz2'] as const;
const CIDR: Record<string, string> = { fz1: '10.42.51.0/24', fz2: '10.42.52.0/24', fzv: '10.42.53.0/24' };
const ipIn = (node: string, host: number): string => CIDR[node]!.replace('.0/24', `.${host}`);

interface Write {
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  contentType?: string;
  what: string;
}

const it = suite<{ server: ServerProcess; tokens: Record<string, string>; victim: Map<string, string> }>('fuzz-node-credential-writes');

/** The victim's objects, by API path, with the resourceVersion each must keep. */
const VICTIM_PATHS = [
  '/api/v1/nodes/fzv',
  '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/fzv',
  '/api/v1/namespaces/kube-system/secrets/corral-kubelet-fzv',
  '/api/v1/namespaces/default/pods/p-fzv-0',
  '/api/v1/namespaces/default/pods/p-fzv-1',
  '/api/v1/namespaces/default/secrets/s-fzv',
  '/api/v1/namespaces/default/configmaps/c-fzv',
  '/api/v1/namespaces/default/services/web',
  '/api/v1/namespaces/kube-system',
];

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'], env: { CORRAL_LOG_LEVEL: 'warn', CORRAL_FAILED_AUTH_BURST: '100000' } });
  const store = new TokenStore(join(ctx.server.dataDir, 'server', 'tokens.json'));
  ctx.tokens = Object.fromEntries(ACTORS.map((n) => [n, store.mintNodeCredential(n).token]));
  const c = ctx.server.client;
  for (const n of NODES) {
    await c.create('Node', undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: n }, spec: { podCIDR: CIDR[n], podCIDRs: [CIDR[n]] } });
    await c.create('Lease', 'kube-node-lease', { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: n, namespace: 'kube-node-lease' }, spec: { holderIdentity: n } });
    await c.create('Secret', 'kube-system', { apiVersion: 'v1', kind: 'Secret', metadata: { name: `corral-kubelet-${n}`, namespace: 'kube-system' }, data: { token: 'eA==' } });
    await c.create('Secret', 'default', { apiVersion: 'v1', kind: 'Secret', metadata: { name: `s-${n}` }, data: { k: 'eA==' } });
    await c.create('ConfigMap', 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `c-${n}` }, data: { k: 'x' } });
    for (const i of [0, 1]) {
      await c.create('Pod', 'default', {
        apiVersion: 'v1', kind: 'Pod', metadata: { name: `p-${n}-${i}`, labels: { app: 'web' } },
        spec: { nodeName: n, containers: [{ name: 'c', image: 'busybox', envFrom: [{ secretRef: { name: `s-${n}` } }] }], volumes: [{ name: 'v', configMap: { name: `c-${n}` } }] },
      });
    }
  }
  await c.create('Service', 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } });
  ctx.victim = new Map();
  for (const path of VICTIM_PATHS) ctx.victim.set(path, await resourceVersionAt(ctx.server, path));
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
});

async function resourceVersionAt(server: ServerProcess, path: string): Promise<string> {
  const reply = await rawRequest({ port: server.port, method: 'GET', target: path, headers: { authorization: `Bearer ${server.token}` } });
  if (reply.status !== 200) return `HTTP ${reply.status}`;
  return (JSON.parse(reply.body.toString('utf8')) as KubeObject).metadata.resourceVersion ?? '';
}

/** A body for an attack: a valid object of the kind, often mutated, sometimes a patch. */
function attackBody(r: Rng, kind: string, name: string, namespace: string | undefined): unknown {
  const obj = validObject(resourceForKind(kind)!, name, namespace);
  for (let i = r.int(3); i > 0; i--) mutate(r, obj);
  return obj;
}

/** A write no node credential may make (self = the acting node, other = the other actor). */
function attack(r: Rng, self: string): Write {
  const other = r.pick(NODES.filter((n) => n !== self));
  const statusPatch = { status: r.pick([{ podIP: ipIn(self, r.range(2, 250)) }, { conditions: [{ type: 'Ready', status: 'False' }] }, { phase: 'Failed' }]) };
  const pod = `p-${other}-${r.int(2)}`;
  const choices: (() => Write)[] = [
    () => ({ what: 'patch another node', method: 'PATCH', path: `/api/v1/nodes/${other}`, body: { metadata: { labels: { x: String(r.int(9)) } } } }),
    () => ({ what: 'patch another node\'s status', method: 'PATCH', path: `/api/v1/nodes/${other}/status`, body: { status: { addresses: [{ type: 'InternalIP', address: '10.9.9.9' }], daemonEndpoints: { kubeletEndpoint: { Port: r.range(1, 65535) } } } } }),
    () => ({ what: 'replace another node', method: 'PUT', path: `/api/v1/nodes/${other}`, body: attackBody(r, 'Node', other, undefined) }),
    () => ({ what: 'delete another node', method: 'DELETE', path: `/api/v1/nodes/${other}` }),
    () => ({ what: 'create another node', method: 'POST', path: '/api/v1/nodes', body: attackBody(r, 'Node', r.pick([other, `new-${r.int(99)}`]), undefined) }),
    () => ({ what: 'set own pod CIDR', method: 'PATCH', path: `/api/v1/nodes/${self}`, body: { spec: { podCIDR: CIDR[other], podCIDRs: [CIDR[other]] } } }),
    () => ({ what: 'taint or cordon own node', method: 'PATCH', path: `/api/v1/nodes/${self}`, body: { spec: r.pick([{ unschedulable: true }, { taints: [{ key: 'k', effect: 'NoSchedule' }] }]) } }),
    () => ({ what: 'renew another lease', method: 'PATCH', path: `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${other}`, body: { spec: { holderIdentity: self } } }),
    () => ({ what: 'create another lease', method: 'POST', path: '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', body: attackBody(r, 'Lease', other, 'kube-node-lease') }),
    () => ({ what: 'delete another lease', method: 'DELETE', path: `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${other}` }),
    () => ({ what: 'overwrite another kubelet Secret', method: r.pick(['PUT', 'PATCH'] as const), path: `/api/v1/namespaces/kube-system/secrets/corral-kubelet-${other}`, body: r.chance(0.5) ? { data: { token: 'aGk=' } } : attackBody(r, 'Secret', `corral-kubelet-${other}`, 'kube-system') }),
    () => ({ what: 'create a Secret', method: 'POST', path: `/api/v1/namespaces/${r.pick(['default', 'kube-system'])}/secrets`, body: attackBody(r, 'Secret', r.pick([`corral-kubelet-${other}`, `s-${other}`, 'planted']), undefined) }),
    () => ({ what: 'overwrite a pod\'s Secret', method: 'PATCH', path: `/api/v1/namespaces/default/secrets/s-${r.pick([self, other])}`, body: { data: { k: 'aGk=' } } }),
    () => ({ what: 'delete a Secret', method: 'DELETE', path: `/api/v1/namespaces/${r.pick(['default', 'kube-system'])}/secrets/${r.pick([`s-${self}`, `corral-kubelet-${self}`, `corral-kubelet-${other}`])}` }),
    () => ({ what: 'patch a ConfigMap', method: 'PATCH', path: `/api/v1/namespaces/default/configmaps/c-${r.pick([self, other])}`, body: { data: { k: 'y' } } }),
    () => ({ what: 'patch another node\'s pod status', method: 'PATCH', path: `/api/v1/namespaces/default/pods/${pod}/status`, body: statusPatch }),
    () => ({ what: 'pod IP outside own CIDR', method: 'PATCH', path: `/api/v1/namespaces/default/pods/p-${self}-${r.int(2)}/status`, body: { status: { podIP: r.pick([ipIn(other, r.range(2, 250)), '10.43.0.1', '8.8.8.8', 'x']), podIPs: [] } } }),
    () => ({ what: 'delete another node\'s pod', method: 'DELETE', path: `/api/v1/namespaces/default/pods/${pod}` }),
    () => ({ what: 'change a pod spec', method: 'PATCH', path: `/api/v1/namespaces/default/pods/p-${r.pick([self, other])}-${r.int(2)}`, body: { metadata: { labels: { app: 'hijack' } } } }),
    () => ({ what: 'create a pod', method: 'POST', path: '/api/v1/namespaces/default/pods', body: attackBody(r, 'Pod', `evil-${r.int(99)}`, 'default') }),
    () => ({ what: 'delete all pods', method: 'DELETE', path: '/api/v1/namespaces/default/pods' }),
    () => ({ what: 'patch a Service', method: 'PATCH', path: '/api/v1/namespaces/default/services/web', body: { spec: { selector: { app: 'hijack' } } } }),
    () => ({ what: 'write Endpoints', method: 'POST', path: '/api/v1/namespaces/default/endpoints', body: attackBody(r, 'Endpoints', 'web', 'default') }),
    () => ({ what: 'delete a namespace', method: 'DELETE', path: `/api/v1/namespaces/${r.pick(['kube-system', 'default'])}` }),
    () => ({ what: 'create a workload', method: 'POST', path: '/apis/apps/v1/namespaces/default/deployments', body: attackBody(r, 'Deployment', 'evil', 'default') }),
    () => ({ what: 'mint a credential', method: 'POST', path: `/join/node-token?node=${r.pick([self, other])}` }),
  ];
  const w = r.pick(choices)();
  return w.method === 'PATCH' ? { ...w, contentType: 'application/merge-patch+json' } : w;
}

/** A write the agent of `self` makes, with random values: must succeed. */
function legitimate(r: Rng, self: string): Write {
  const choices: (() => Write)[] = [
    () => ({ what: 'label own node', method: 'PATCH', path: `/api/v1/nodes/${self}`, body: { metadata: { labels: { 'corral.dev/fuzz': String(r.int(1000)) } } } }),
    () => ({ what: 'own node status', method: 'PATCH', path: `/api/v1/nodes/${self}/status`, body: { status: { conditions: [{ type: 'Ready', status: r.pick(['True', 'False']), reason: 'Fuzz', lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }] } } }),
    () => ({ what: 'renew own lease', method: 'PATCH', path: `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${self}`, body: { spec: { holderIdentity: self, leaseDurationSeconds: r.range(10, 60) } } }),
    () => ({ what: 'own pod status', method: 'PATCH', path: `/api/v1/namespaces/default/pods/p-${self}-${r.int(2)}/status`, body: { status: { phase: 'Running', podIP: ipIn(self, r.range(2, 254)) } } }),
    () => ({ what: 'own kubelet Secret', method: 'PATCH', path: `/api/v1/namespaces/kube-system/secrets/corral-kubelet-${self}`, body: { data: { token: Buffer.from(String(r.int(1e6))).toString('base64') } } }),
    () => ({ what: 'an Event', method: 'POST', path: '/api/v1/namespaces/default/events', body: { apiVersion: 'v1', kind: 'Event', metadata: { generateName: `${self}-` }, involvedObject: { kind: 'Node', name: self }, reason: 'Fuzz', message: String(r.int(1e6)), type: 'Normal' } }),
  ];
  const w = r.pick(choices)();
  return w.method === 'PATCH' ? { ...w, contentType: w.path.endsWith('/status') || r.chance(0.5) ? 'application/merge-patch+json' : 'application/strategic-merge-patch+json' } : w;
}

it('random node-credential writes: attacks never succeed, agent writes always do, the victim is untouched', async ({ server, tokens, victim }) => {
  const seed = fuzzSeed('node-credential-writes');
  const count = fuzzCount(600);
  const rng = new Rng(seed);
  const failures: string[] = [];
  let attacks = 0;
  await runCases(rng, count, 4, async (r, index) => {
    const self = r.pick(ACTORS);
    const isAttack = r.chance(0.6);
    const w = isAttack ? attack(r, self) : legitimate(r, self);
    if (isAttack) attacks++;
    const body = w.body === undefined ? undefined : Buffer.from(JSON.stringify(w.body));
    const headers: Record<string, string> = { authorization: `Bearer ${tokens[self]!}`, ...(body ? { 'content-type': w.contentType ?? 'application/json' } : {}) };
    const reply = await rawRequest({ port: server.port, method: w.method, target: w.path, headers, ...(body ? { body } : {}) });
    const ok = reply.status >= 200 && reply.status < 300;
    const text = reply.body.toString('utf8').slice(0, 300);
    if (reply.status >= 500 || reply.status === 0) failures.push(`case ${index} ${self}: ${w.what}: ${w.method} ${w.path} → ${reply.status} ${text}`);
    else if (isAttack && ok) failures.push(`case ${index} ${self}: attack succeeded: ${w.what}: ${w.method} ${w.path} ${JSON.stringify(w.body)} → ${reply.status}`);
    else if (!isAttack && !ok) failures.push(`case ${index} ${self}: agent write refused: ${w.what}: ${w.method} ${w.path} ${JSON.stringify(w.body)} → ${reply.status} ${text}`);
  });
  assert.ok(attacks > count / 3, `${attacks} attacks of ${count}`);
  assert.equal(failures, [], `seed ${seed}: ${failures.length} of ${count} cases wrong:\n${failures.slice(0, 20).join('\n')}`);
  assert.ok(server.child!.exitCode === null, 'the server is alive');
  const errors = server.logs.split('\n').filter((l) => l.includes('"level":"error"'));
  assert.equal(errors, [], `seed ${seed}: error-level log lines`);

  for (const [path, rv] of victim) assert.is(await resourceVersionAt(server, path), rv, `seed ${seed}: ${path} was changed`);

  // Every stored pod IP lies in its node's pod CIDR, and everything stored validates.
  const nodes = new Map((await server.client.list<Node>('Node')).items.map((n) => [n.metadata.name!, n]));
  for (const pod of (await server.client.listAll<Pod>('Pod')).items) {
    const ip = pod.status?.podIP;
    if (!ip) continue;
    const cidr = nodes.get(pod.spec.nodeName ?? '')?.spec?.podCIDR ?? '';
    const allowed = new BlockList();
    allowed.addSubnet(cidr.split('/')[0]!, Number(cidr.split('/')[1]));
    assert.ok(allowed.check(ip), `seed ${seed}: pod ${pod.metadata.name} has ${ip}, outside ${cidr}`);
  }
  const invalid: string[] = [];
  for (const info of RESOURCES) {
    if (info.kind === 'Event' || info.kind === 'Lease' || info.kind === 'Node' || info.kind === 'Pod' || info.kind === 'Secret') {
      for (const obj of (await server.client.listAll<KubeObject>(info.kind)).items) {
        const causes = validateObject(info, { ...obj, apiVersion: info.group === '' ? info.version : `${info.group}/${info.version}`, kind: info.kind });
        if (causes.length > 0) invalid.push(`${info.kind} ${obj.metadata.namespace ?? ''}/${obj.metadata.name}: ${JSON.stringify(causes).slice(0, 300)}`);
      }
    }
  }
  assert.equal(invalid, [], `seed ${seed}: stored objects fail validation`);
});

it.run();
