/**
 * Pod status IPs through a real `corral server`: podIP/podIPs must be IP addresses inside the pod's
 * node's pod CIDR (hostNetwork pods: one of the node's addresses), and the endpoints controller never
 * wedges on a pod whose stored IP is not an IP (data from before this validation): it skips that pod,
 * records a Warning Event on the Service, and keeps publishing the others.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import type { KubeObject } from '../../api/meta.js';
import { StatusError } from '../../api/status.js';
import type { Endpoints, Event, Pod } from '../../api/types.js';
import { paths } from '../../server/config.js';
import { ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess }>('pod IP validation');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
  const c = ctx.server.client;
  await c.create('Node', undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'ipn1' }, spec: { podCIDR: '10.42.31.0/24', podCIDRs: ['10.42.31.0/24'] } });
  await c.patchStatus('Node', undefined, 'ipn1', { status: { addresses: [{ type: 'InternalIP', address: '192.168.77.10' }] } });
  for (const [name, hostNetwork] of [['a', false], ['b', false], ['h', true]] as const) {
    await c.create('Pod', 'default', {
      apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app: 'web' } },
      spec: { nodeName: 'ipn1', hostNetwork, containers: [{ name: 'c', image: 'busybox', ports: [{ containerPort: 80 }] }] },
    });
  }
  await c.create('Service', 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } });
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
});

async function statusCode(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof StatusError) return err.code;
    throw err;
  }
}

const setIp = (server: ServerProcess, pod: string, ip: string): Promise<unknown> =>
  server.client.patchStatus('Pod', 'default', pod, { status: { podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] } });

it('a pod IP must be an IP inside the node\'s pod CIDR; a hostNetwork pod\'s one of the node\'s addresses', async ({ server }) => {
  assert.is(await statusCode(setIp(server, 'a', '10.42.31.5')), 200);
  assert.is(await statusCode(setIp(server, 'b', '10.42.31.6')), 200);
  for (const bad of ['10.42.32.5', '8.8.8.8', '10.42.31.256', 'not-an-ip', '']) {
    const code = await statusCode(server.client.patchStatus('Pod', 'default', 'a', { status: { podIPs: [{ ip: bad }] } }));
    assert.is(code, 422, `podIPs ${JSON.stringify(bad)}`);
  }
  const err = await setIp(server, 'a', '10.42.99.1').catch((e: unknown) => e as StatusError);
  assert.instance(err, StatusError);
  assert.match((err as StatusError).message, 'Pod "a" is invalid: status.podIPs: Invalid value: "10.42.99.1": must be inside node ipn1\'s pod CIDR 10.42.31.0/24');
  assert.is(await statusCode(setIp(server, 'h', '192.168.77.10')), 200, 'hostNetwork: the node\'s address');
  assert.is(await statusCode(setIp(server, 'h', '10.42.31.7')), 422, 'hostNetwork: not a pod CIDR address');
  const stored = await server.client.get<Pod>('Pod', 'default', 'a');
  assert.is(stored.status?.podIP, '10.42.31.5', 'nothing of a refused write was stored');
});

it('the endpoints controller skips a stored pod whose IP is no IP, records an Event, and keeps the Service current', async ({ server }) => {
  const addresses = async (): Promise<string[]> => {
    const ep = await server.client.tryGet<Endpoints>('Endpoints', 'default', 'web');
    return (ep?.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip)).sort();
  };
  await waitUntil('a, b and h published', async () => (await addresses()).length === 3, 10_000);
  // An older version stored whatever IP a node reported: put one such pod into the database.
  await server.stop();
  const key = '/registry/core/pods/default/b';
  execFileSync('sqlite3', [paths.db(server.dataDir),
    `UPDATE log SET value = json_set(value, '$.status.podIP', 'not-an-ip', '$.status.podIPs[0].ip', 'not-an-ip') WHERE id = (SELECT max(id) FROM log WHERE name = '${key}')`]);
  await server.launch();
  assert.is((await server.client.get<Pod>('Pod', 'default', 'b')).status?.podIP, 'not-an-ip');
  await setIp(server, 'a', '10.42.31.9');
  await waitUntil('Endpoints updated without b', async () => {
    const ips = await addresses();
    return ips.join(',') === '10.42.31.9,192.168.77.10' ? ips : undefined;
  }, 15_000);
  const events = await waitUntil('the Warning Event on the Service', async () => {
    const list = await server.client.list<Event & KubeObject>('Event', 'default');
    const found = list.items.filter((e) => e.reason === 'FailedToUpdateEndpoint' && e.involvedObject?.name === 'web');
    return found.length > 0 ? found : undefined;
  }, 10_000);
  assert.match(events[0]!.message ?? '', 'skipped pod default/b: its podIP "not-an-ip" is not a valid IP address');
});

it.run();
