/**
 * Two API servers on one etcd never hand out the same ClusterIP or NodePort: with a service range so
 * small that their own bitmaps must collide, concurrent creates through both servers all get distinct
 * values (the cluster-wide claims decide, the loser picks again), an explicit request for a value the
 * other server handed out is refused with upstream's 422, and a deleted Service's values come free.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../server/main.js';
import { defaultServerConfig } from '../../server/config.js';
import type { Service } from '../../api/types.js';
import { log } from '../../api/log.js';
import { EtcdCluster, etcdAvailable } from '../support/etcd-process.js';

log.setLevel('error');

if (etcdAvailable()) {
  test('concurrent Service creates through two servers get distinct ClusterIPs and NodePorts', async () => {
    const etcd = await EtcdCluster.start(1);
    const dirs: string[] = [];
    const servers: RunningServer[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const dataDir = mkdtempSync(join(tmpdir(), 'corral-ha-'));
        dirs.push(dataDir);
        servers.push(await startServer({
          ...defaultServerConfig(), dataDir, port: 0, bindAddress: '127.0.0.1', disableAgent: true, disableControllers: true,
          // 30 usable addresses: the two servers' random picks must meet.
          serviceCidr: '10.96.0.0/27', clusterDns: '10.96.0.10', datastore: { endpoints: etcd.endpoints, clusterSecret: 'test-cluster-secret-0123456789' },
        }));
      }
      const [a, b] = servers as [RunningServer, RunningServer];
      const creates = Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? a : b).client.create<Service>('Service', 'default', {
        metadata: { name: `s${i}` }, spec: { type: 'NodePort', ports: [{ port: 80 }] },
      }));
      const made = await Promise.all(creates);
      const ips = made.map((s) => s.spec.clusterIP);
      assert.is(new Set(ips).size, 24, `distinct ClusterIPs: ${ips.join(' ')}`);
      assert.not.ok(ips.includes('10.96.0.1') || ips.includes('10.96.0.10'), 'the kubernetes and kube-dns addresses stay theirs');
      const ports = made.map((s) => s.spec.ports?.[0]?.nodePort);
      assert.is(new Set(ports).size, 24, `distinct NodePorts: ${ports.join(' ')}`);

      // An explicit request for what the other server handed out.
      const taken = made[1]!.spec.clusterIP!; // created through b
      const refused = await a.client.create('Service', 'default', { metadata: { name: 'wants-taken' }, spec: { clusterIP: taken, ports: [{ port: 80 }] } })
        .then(() => undefined, (err: unknown) => err as { code?: number; message?: string });
      assert.ok(refused, 'refused');
      assert.is(refused!.code, 422);
      assert.match(String(refused!.message), /provided IP is already allocated/);

      // Deleted through b, the address can be asked for through a.
      await b.client.delete('Service', 'default', 's1');
      await new Promise((r) => setTimeout(r, 200)); // the claim is released after the delete
      const reused = await a.client.create<Service>('Service', 'default', { metadata: { name: 'reuses' }, spec: { clusterIP: taken, ports: [{ port: 80 }] } });
      assert.is(reused.spec.clusterIP, taken);
    } finally {
      for (const s of servers) await s.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      await etcd.stop();
    }
  });
}

test.run();
