/**
 * High availability under fire: three `corral server` processes on a three-member etcd, twenty
 * hollow nodes talking to all three servers through the agents' failover transport. During a
 * 1,000-replica Deployment rollout the server leading the controllers is killed (-9) and so is one
 * etcd member. Then: another server takes the controllers over within the lease time, the rollout
 * completes, no pod is created twice (a watch sees exactly 1,000 pods added and none deleted), and
 * Services created through every server meanwhile never share a ClusterIP.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ServerProcess } from '../support/server-process.js';
import { EtcdCluster, etcdAvailable } from '../support/etcd-process.js';
import { HollowNode } from '../support/hollow-node.js';
import { waitUntil } from '../support/wait.js';
import { ApiClient } from '../../api/client/client.js';
import { HttpsTransport } from '../../api/client/transport.js';
import { FailoverTransport } from '../../api/client/failover-transport.js';
import type { Deployment, Lease, Pod, Service } from '../../api/types.js';
import { log } from '../../api/log.js';

log.setLevel('warn');

const REPLICAS = Number(process.env['CORRAL_HA_REPLICAS'] ?? '') || 1000;
const NODES = 20;
const LEASE_SECONDS = 3;

interface Ctx { etcd: EtcdCluster; servers: ServerProcess[]; nodes: HollowNode[]; transports: FailoverTransport[] }
const test = suite<Ctx>('three servers on a three-member etcd: leader and member killed mid-rollout');

function clientOverAll(servers: ServerProcess[], order: number): { client: ApiClient; transport: FailoverTransport } {
  const caPem = readFileSync(join(servers[0]!.dataDir, 'server', 'tls', 'ca.crt'), 'utf8');
  const token = readFileSync(join(servers[0]!.dataDir, 'server', 'admin-token'), 'utf8').trim();
  const rotated = [...servers.slice(order % servers.length), ...servers.slice(0, order % servers.length)];
  const transport = new FailoverTransport(rotated.map((s) => ({ name: s.url, transport: new HttpsTransport({ server: s.url, caPem, token, timeoutMs: 10_000 }) })));
  return { client: new ApiClient(transport), transport };
}

if (etcdAvailable()) {
  test.before(async (ctx) => {
    ctx.etcd = await EtcdCluster.start(3);
    ctx.servers = [];
    ctx.transports = [];
    ctx.nodes = [];
    for (let i = 0; i < 3; i++) {
      ctx.servers.push(await ServerProcess.start({
        extraArgs: ['--datastore-endpoint', ctx.etcd.endpoints.join(',')],
        env: { CORRAL_TOKEN: 'ha-rollout-cluster-secret-42', CORRAL_LEADER_LEASE_SECONDS: String(LEASE_SECONDS), CORRAL_LOG_LEVEL: 'info' },
      }));
    }
  });

  test.after(async (ctx) => {
    for (const n of ctx.nodes ?? []) n.stop();
    for (const t of ctx.transports ?? []) t.close();
    for (const s of ctx.servers ?? []) await s.destroy();
    await ctx.etcd?.stop();
  });

  test(`a ${REPLICAS}-replica rollout survives the leader's kill -9 and an etcd member's`, async (ctx) => {
    for (let i = 0; i < NODES; i++) {
      const { client, transport } = clientOverAll(ctx.servers, i);
      ctx.transports.push(transport);
      ctx.nodes.push(await HollowNode.start(client, { name: `hollow-${i}`, capacity: { cpu: '64', memory: '256Gi', pods: 110 } }));
    }
    const leaderIndex = await waitUntil('a controllers leader', async () => {
      const i = ctx.servers.findIndex((s) => /became leader/.test(s.logs));
      return i >= 0 ? i : undefined;
    }, 20_000, 200);
    const leader = ctx.servers[leaderIndex]!;
    const { client: observer, transport } = clientOverAll(ctx.servers, leaderIndex + 1);
    ctx.transports.push(transport);
    const heldBefore = (await observer.get<Lease>('Lease', 'kube-system', 'corral-controllers')).spec?.holderIdentity;

    // Every pod ever added or deleted, from before the Deployment exists.
    const added = new Set<string>();
    let deleted = 0;
    const watchAbort = new AbortController();
    const watching = (async () => {
      for await (const ev of observer.watch('Pod', 'default', { signal: watchAbort.signal })) {
        if (ev.type === 'ADDED') added.add(ev.object.metadata.name!);
        if (ev.type === 'DELETED') deleted++;
      }
    })().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));

    await observer.create('Deployment', 'default', {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'big' },
      spec: { replicas: REPLICAS, selector: { matchLabels: { app: 'big' } }, template: { metadata: { labels: { app: 'big' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
    });
    await waitUntil('a third of the pods exist', async () => added.size >= REPLICAS / 3, 120_000, 100);
    await leader.stop('SIGKILL');
    const killedAt = performance.now();
    await ctx.etcd.kill(2);

    // Services through each surviving server while the controllers move.
    const survivors = ctx.servers.filter((s) => s !== leader);
    const services = await Promise.all(Array.from({ length: 20 }, (_, i) => survivors[i % survivors.length]!.client.create<Service>('Service', 'default', {
      metadata: { name: `svc-${i}` }, spec: { ports: [{ port: 80 }] },
    })));
    const ips = services.map((s) => s.spec.clusterIP);
    assert.is(new Set(ips).size, services.length, `distinct ClusterIPs: ${ips.join(' ')}`);

    const tookOver = await waitUntil('another server holds the controllers\' Lease', async () => {
      const l = await observer.get<Lease>('Lease', 'kube-system', 'corral-controllers');
      return l.spec?.holderIdentity && l.spec.holderIdentity !== heldBefore ? performance.now() : undefined;
    }, 60_000, 100);
    const takeoverMs = tookOver - killedAt;
    assert.ok(takeoverMs <= (LEASE_SECONDS * 3 + 5) * 1000, `took over in ${Math.round(takeoverMs)} ms`);

    await waitUntil(`all ${REPLICAS} replicas available`, async () => {
      const d = await observer.get<Deployment>('Deployment', 'default', 'big');
      return d.status?.availableReplicas === REPLICAS && d.status.updatedReplicas === REPLICAS;
    }, 300_000, 500).catch(async (err: unknown) => {
      const d = await observer.get<Deployment>('Deployment', 'default', 'big');
      const pods = await observer.list<Pod>('Pod', 'default', { labelSelector: 'app=big' });
      const bound = pods.items.filter((p) => p.spec.nodeName).length;
      const running = pods.items.filter((p) => p.status?.phase === 'Running').length;
      const logs = survivors.map((s) => s.logs.split('\n').filter((l) => /"level":"(warn|error)"|leader/.test(l)).slice(-15).join('\n')).join('\n---\n');
      throw new Error(`${String(err)}\ndeployment status ${JSON.stringify(d.status)}\npods ${pods.items.length}, bound ${bound}, running ${running}, added ${added.size}, deleted ${deleted}\n${logs}`);
    });
    await new Promise((r) => setTimeout(r, 1_000)); // let a stray extra pod show up, if any
    watchAbort.abort();
    await watching;
    assert.is(added.size, REPLICAS, `pods ever added: ${added.size}`);
    assert.is(deleted, 0, 'no pod was created twice and deleted again');
    const pods = await observer.list<Pod>('Pod', 'default', { labelSelector: 'app=big' });
    assert.is(pods.items.length, REPLICAS);
    assert.ok(pods.items.every((p) => p.spec.nodeName), 'every pod is bound');
    process.stdout.write(`  controllers taken over ${Math.round(takeoverMs)} ms after the leader's kill -9 (lease ${LEASE_SECONDS} s)\n`);
  });
}

test.run();
