/**
 * Pods queueing for a device resource inside a real `corral server`: only a node with a free
 * `devices.corral.io/...` unit takes one, the others wait Pending with upstream's FailedScheduling
 * reason, and when the unit frees they get it in creation order — even when the older pod has
 * failed more scheduling attempts (longer back-off) than a younger one.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Event, Pod } from '../../api/types.js';
import { HollowNode } from '../support/hollow-node.js';
import { ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const DEVICE = 'devices.corral.io/usb-0403-6001';
const it = suite<{ server: ServerProcess; board: HollowNode; plain: HollowNode }>('device-queue');

function hilPod(name: string): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app: 'hil' } },
    spec: { restartPolicy: 'Never', containers: [{ name: 'test', image: 'busybox', resources: { limits: { [DEVICE]: '1' } } }] },
  };
}

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start();
  ctx.board = await HollowNode.start(ctx.server.client, { name: 'board', capacity: { cpu: '4', memory: '4Gi', pods: 20, [DEVICE]: '1' } });
  ctx.plain = await HollowNode.start(ctx.server.client, { name: 'plain', capacity: { cpu: '4', memory: '4Gi', pods: 20 } });
});

it.after(async (ctx) => {
  ctx.board?.stop();
  ctx.plain?.stop();
  await ctx.server?.destroy();
});

const nodeOf = async (server: ServerProcess, name: string): Promise<string | undefined> => (await server.client.get<Pod>('Pod', 'default', name)).spec.nodeName;

it('one pod holds the device, the others wait with a clear reason and get it in creation order', async ({ server, board }) => {
  const c = server.client;
  await c.create('Pod', 'default', hilPod('hil-c'));
  assert.is(await waitUntil('hil-c bound', () => nodeOf(server, 'hil-c'), 15_000), 'board', 'only the node with the device takes it');

  await c.create('Pod', 'default', hilPod('hil-b'));
  const scheduled = await waitUntil('hil-b unschedulable', async () => {
    const p = await c.get<Pod>('Pod', 'default', 'hil-b');
    return p.status?.conditions?.find((x) => x.type === 'PodScheduled' && x.status === 'False');
  }, 15_000);
  assert.is(scheduled.reason, 'Unschedulable');
  assert.ok(scheduled.message?.startsWith(`0/2 nodes are available: 2 Insufficient ${DEVICE}.`), scheduled.message);
  const events = await c.list<Event>('Event', 'default', { fieldSelector: 'involvedObject.name=hil-b' });
  assert.ok(events.items.some((e) => e.reason === 'FailedScheduling' && e.message?.includes(`Insufficient ${DEVICE}`)));

  // hil-b fails more attempts (cluster changes that do not help), so its back-off grows past hil-a's.
  for (let i = 0; i < 4; i++) {
    await c.patch('Node', undefined, 'plain', { metadata: { labels: { round: String(i) } } });
    await new Promise((r) => setTimeout(r, 700));
  }
  await new Promise((r) => setTimeout(r, 1100));
  await c.create('Pod', 'default', hilPod('hil-a'));
  await waitUntil('hil-a unschedulable', async () => (await c.get<Pod>('Pod', 'default', 'hil-a')).status?.conditions?.some((x) => x.type === 'PodScheduled' && x.status === 'False'), 15_000);
  await new Promise((r) => setTimeout(r, 1100));

  await board.completePod('default', 'hil-c');
  const next = await waitUntil('the next pod bound', async () => {
    const [a, b] = [await nodeOf(server, 'hil-a'), await nodeOf(server, 'hil-b')];
    return a || b ? { a, b } : undefined;
  }, 15_000);
  assert.equal(next, { a: undefined, b: 'board' }, 'the older pod gets the device first');
  await new Promise((r) => setTimeout(r, 500));
  assert.is(await nodeOf(server, 'hil-a'), undefined, 'never two holders at once');

  await board.completePod('default', 'hil-b');
  assert.is(await waitUntil('hil-a bound', () => nodeOf(server, 'hil-a'), 15_000), 'board');
});

it.run();
