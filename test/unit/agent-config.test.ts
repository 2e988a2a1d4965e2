/**
 * Agent settings: reserved cpu/memory (allocatable = capacity − reserved) are validated before the
 * agent starts, and the default pod netns prefix that uninstall relies on.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultNetnsPrefix, reservedResources, resolveAgentConfig } from '../../agent/config.js';

test('reserved amounts pass through as quantities; empty means none', () => {
  assert.equal(reservedResources({ reservedCpu: '250m', reservedMemory: '256Mi' }), { cpu: '250m', memory: '256Mi' });
  assert.equal(reservedResources({ reservedCpu: '', reservedMemory: undefined }), {});
  assert.equal(reservedResources({ reservedCpu: '1' }), { cpu: '1' });
});

test('a malformed or negative reservation is refused with the flag name', () => {
  assert.throws(() => reservedResources({ reservedCpu: 'half' }), /--reserved-cpu "half"/);
  assert.throws(() => reservedResources({ reservedMemory: '-1Gi' }), /--reserved-memory/);
});

test('resolveAgentConfig keeps the reservations and refuses bad ones before anything starts', async () => {
  const base = { serverUrl: 'https://127.0.0.1:6443', token: 't', caPem: '', dataDir: '/tmp/x', nodeName: 'pi-1', nodeIp: '10.0.0.5' };
  const cfg = await resolveAgentConfig({ ...base, reservedCpu: '500m', reservedMemory: '1Gi' });
  assert.is(cfg.reservedCpu, '500m');
  assert.is(cfg.reservedMemory, '1Gi');
  assert.is(cfg.netnsPrefix, 'corral-pi-1-');
  await resolveAgentConfig({ ...base, reservedMemory: 'lots' }).then(() => assert.unreachable('accepted "lots"'), (err: Error) => assert.match(err.message, /--reserved-memory/));
});

test('cluster DNS settings: defaults, and bad ones refused with the flag name', async () => {
  const base = { serverUrl: 'https://127.0.0.1:6443', token: 't', caPem: '', dataDir: '/tmp/x', nodeName: 'pi-1', nodeIp: '10.0.0.5' };
  const cfg = await resolveAgentConfig(base);
  assert.equal([cfg.clusterDomain, cfg.clusterDns, cfg.dnsPort, cfg.dnsTtlSeconds], ['cluster.local', '10.43.0.10', 10053, 5]);
  const refused = async (extra: object, flag: RegExp): Promise<void> => {
    await resolveAgentConfig({ ...base, ...extra }).then(() => assert.unreachable(`accepted ${JSON.stringify(extra)}`), (err: Error) => assert.match(err.message, flag));
  };
  await refused({ clusterDomain: 'Cluster_Local' }, /--cluster-domain/);
  await refused({ clusterDns: '10.43.0' }, /--cluster-dns "/);
  await refused({ dnsPort: 70000 }, /--cluster-dns-port/);
  await refused({ dnsTtlSeconds: -1 }, /--cluster-dns-ttl/);
});

test('default netns prefix is the node name made safe', () => {
  assert.is(defaultNetnsPrefix('n1'), 'corral-n1-');
  assert.is(defaultNetnsPrefix('pi.lan'), 'corral-pi-lan-');
});

test.run();
