/**
 * LoadBalancer failover time, in the lab (lab 'lbbench': 2 nodes, a client host, a pool address): kill
 * the agent of the node announcing the address and time until the client is served through the other
 * node (that node holds the address, a request answers). Printed beside its floor, the lease duration
 * (by design no node takes over before a whole lease without renewal), with the ratio.
 *
 *   npm run bench -- lb [--quick] [--lease 4]
 */
import { createLab } from '../lab/harness.js';
import { buildBusyboxImage } from '../lab/image.js';
import { startLabCluster } from '../lab/agent-cluster.js';
import { apply, get, holders, lbService, pod } from '../lab/lb-lab.js';
import type { Node } from '../../api/types.js';
import type { KubeList } from '../../api/meta.js';
import { waitUntil } from '../support/wait.js';

const quick = process.argv.includes('--quick');
const leaseArg = process.argv.indexOf('--lease');
const LEASE_SECONDS = leaseArg > 0 ? Number(process.argv[leaseArg + 1]) : 4;
const ROUNDS = quick ? 1 : 3;
const VIP = '192.168.78.240';

const lab = await createLab({ name: 'lbbench', nodes: 2, lanCidr: '192.168.78.0/24', clients: ['client'], guardRanges: ['192.168.78.240/29'] });
try {
  const image = await buildBusyboxImage({ dir: '/tmp/corral-lab-images' });
  await Promise.all(lab.nodes.map((n) => lab.importImage(n.name, image)));
  const c = await startLabCluster(lab, { serverArgs: ['--lb-pool', '192.168.78.240-192.168.78.247'], agentArgs: ['--lb-lease-duration', `${LEASE_SECONDS}s`] });
  const readyNodes = async (): Promise<number> => (await c.getJson<KubeList<Node>>(['get', 'nodes'])).items
    .filter((n) => n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')).length;
  await waitUntil('2 Ready nodes', async () => (await readyNodes()) === 2, 60_000, 300);
  await apply(c, pod('n1', { app: 'web' }), pod('n2', { app: 'web' }), lbService('web', { app: 'web' }));
  await waitUntil('the client reaches the pool address', () => get(lab, 'client', `http://${VIP}:8080/`), 90_000, 300);

  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const [old] = await waitUntil('one holder', async () => { const h = await holders(lab, VIP); return h.length === 1 ? h : undefined; }, 30_000, 200);
    const other = old === 'n1' ? 'n2' : 'n1';
    const t0 = Date.now();
    await c.killAgent(old!);
    await waitUntil('served through the other node', async () => (await holders(lab, VIP)).join() === other && (await get(lab, 'client', `http://${VIP}:8080/`)) !== undefined, (LEASE_SECONDS + 15) * 1000, 100);
    times.push(Date.now() - t0);
    // Bring the killed agent back for the next round (it finds the other node holding the address).
    c.startAgent(old!);
    await new Promise((r) => setTimeout(r, 3_000));
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const floor = LEASE_SECONDS * 1000;
  process.stdout.write(`LB failover (agent of the announcing node killed → client served via the other node), ${ROUNDS} round(s): ${times.join(', ')} ms\n`);
  process.stdout.write(`  median ${median} ms, max ${sorted.at(-1)} ms; floor (lease duration) ${floor} ms; ratio median/floor ${(median / floor).toFixed(2)}\n`);
} finally {
  const report = await lab.destroy();
  if (report.errors.length > 0) process.stdout.write(`lab teardown errors: ${report.errors.join('; ')}\n`);
}
