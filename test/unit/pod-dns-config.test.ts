import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Pod } from '../../api/types.js';
import { validatePodSpec } from '../../api/validation/podspec.js';
import {
  parseResolvConf, pickHostResolvConf, podResolvConf, renderResolvConf, type ClusterDnsSettings,
} from '../../agent/pods/dns-config.js';
import { renderHostsFile } from '../../agent/pods/hosts-file.js';

const settings: ClusterDnsSettings = { clusterDns: '10.43.0.10', clusterDomain: 'cluster.local' };
const host = parseResolvConf('# node\nnameserver 192.168.77.53\nnameserver 192.168.77.54 # second\nsearch lan home.arpa.\noptions edns0 timeout:2\n');

function pod(spec: Partial<Pod['spec']> = {}, name = 'web-1', namespace = 'shop'): Pod {
  return { metadata: { name, namespace }, spec: { containers: [{ name: 'c' }], ...spec } };
}

test('parseResolvConf: nameservers, the last search line, every option, comments', () => {
  assert.equal(host, { nameservers: ['192.168.77.53', '192.168.77.54'], searches: ['lan', 'home.arpa'], options: ['edns0', 'timeout:2'] });
  assert.equal(parseResolvConf('search a\nsearch b c\n').searches, ['b', 'c']);
});

test('ClusterFirst: cluster DNS only, cluster search domains then the node ones, ndots:5', () => {
  const { conf, warnings } = podResolvConf(pod(), host, settings);
  assert.is(renderResolvConf(conf), 'search shop.svc.cluster.local svc.cluster.local cluster.local lan home.arpa\nnameserver 10.43.0.10\noptions ndots:5\n');
  assert.equal(warnings, []);
});

test('hostNetwork: ClusterFirst gets the node config, ClusterFirstWithHostNet the cluster one; no cluster DNS falls back to the node', () => {
  assert.equal(podResolvConf(pod({ hostNetwork: true }), host, settings).conf, host);
  assert.equal(podResolvConf(pod({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), host, settings).conf.nameservers, ['10.43.0.10']);
  assert.equal(podResolvConf(pod(), host, { ...settings, clusterDns: '' }).conf, host);
});

test('Default: the node configuration, with dnsConfig merged (duplicates dropped, options by name)', () => {
  const { conf } = podResolvConf(pod({
    dnsPolicy: 'Default',
    dnsConfig: { nameservers: ['192.168.77.53', '1.2.3.4'], searches: ['lan', 'corp'], options: [{ name: 'timeout', value: '5' }, { name: 'rotate' }] },
  }), host, settings);
  assert.equal(conf, { nameservers: ['192.168.77.53', '192.168.77.54', '1.2.3.4'], searches: ['lan', 'home.arpa', 'corp'], options: ['edns0', 'timeout:5', 'rotate'] });
});

test('None: only dnsConfig', () => {
  const { conf } = podResolvConf(pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['9.9.9.9'], searches: ['x.example'], options: [{ name: 'ndots', value: '2' }] } }), host, settings);
  assert.is(renderResolvConf(conf), 'search x.example\nnameserver 9.9.9.9\noptions ndots:2\n');
});

test('limits: 3 nameservers, 32 search domains, 2048 characters, no domain over 253 characters', () => {
  const many = podResolvConf(pod({ dnsConfig: { nameservers: ['1.1.1.1', '2.2.2.2', '3.3.3.3'], searches: Array.from({ length: 40 }, (_, i) => `d${i}.example`) } }), host, settings);
  assert.equal(many.conf.nameservers, ['10.43.0.10', '1.1.1.1', '2.2.2.2']);
  assert.is(many.conf.searches.length, 32);
  assert.ok(many.warnings.some((w) => w.startsWith('Nameserver limits were exceeded')));
  assert.ok(many.warnings.some((w) => w.startsWith('Search Line limits were exceeded')));
  const long = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}`;
  const tooLong = `${long}.${'e'.repeat(20)}`;
  const wide = podResolvConf(pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['9.9.9.9'], searches: [tooLong, ...Array.from({ length: 10 }, (_, i) => `${long.slice(0, 240)}${i}`)] } }), host, settings);
  assert.not.ok(wide.conf.searches.includes(tooLong));
  assert.ok(wide.conf.searches.join(' ').length <= 2048);
  assert.is(wide.conf.searches.length, 8);
});

test('systemd-resolved: a loopback-only /etc/resolv.conf gives way to the real upstream file', () => {
  const stub = 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n';
  const real = 'nameserver 192.168.77.1\nsearch lan\n';
  assert.is(pickHostResolvConf([{ path: '/etc/resolv.conf', text: stub }, { path: '/run/systemd/resolve/resolv.conf', text: real }])?.path, '/run/systemd/resolve/resolv.conf');
  assert.is(pickHostResolvConf([{ path: '/etc/resolv.conf', text: real }, { path: '/run/systemd/resolve/resolv.conf', text: stub }])?.path, '/etc/resolv.conf');
  assert.is(pickHostResolvConf([{ path: '/etc/resolv.conf', text: stub }, { path: '/run/systemd/resolve/resolv.conf', text: undefined }])?.path, '/etc/resolv.conf');
});

test('/etc/hosts: localhost entries, pod IP with hostname, FQDN with subdomain, hostAliases; hostNetwork keeps the node file', () => {
  const plain = renderHostsFile({ pod: pod(), podIp: '10.42.1.5', clusterDomain: 'cluster.local' });
  assert.match(plain, /^# Kubernetes-managed hosts file\.\n127\.0\.0\.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n/);
  assert.ok(plain.endsWith('\n10.42.1.5\tweb-1\n'));
  const sts = renderHostsFile({
    pod: pod({ hostname: 'db-0', subdomain: 'db', hostAliases: [{ ip: '10.1.2.3', hostnames: ['foo.local', 'bar.local'] }] }), podIp: '10.42.1.6', clusterDomain: 'cluster.local',
  });
  assert.ok(sts.includes('\n10.42.1.6\tdb-0.db.shop.svc.cluster.local\tdb-0\n'));
  assert.ok(sts.endsWith('\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n'));
  const hostNet = renderHostsFile({ pod: pod({ hostNetwork: true, hostAliases: [{ ip: '10.1.2.3', hostnames: ['x'] }] }), podIp: '', clusterDomain: 'cluster.local', nodeHosts: '127.0.0.1 localhost\n192.168.77.11 n1\n' });
  assert.is(hostNet, '127.0.0.1 localhost\n192.168.77.11 n1\n\n# Entries added by HostAliases.\n10.1.2.3\tx\n');
});

test('validation: dnsPolicy None needs dnsConfig with a nameserver; limits; hostAliases IPs', () => {
  const msgs = (spec: object): string[] => validatePodSpec({ containers: [{ name: 'c', image: 'i' }], ...spec }, 'spec').map((c) => `${c.field}: ${c.message}`);
  assert.equal(msgs({ dnsPolicy: 'None' }), ['spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None']);
  assert.equal(msgs({ dnsPolicy: 'None', dnsConfig: {} }), ['spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when `dnsPolicy` is None']);
  assert.equal(msgs({ dnsConfig: { nameservers: ['1.1.1.1', '2.2.2.2', '3.3.3.3', 'x'], options: [{ value: '1' }] } }), [
    'spec.dnsConfig.nameservers: Invalid value: []string{"1.1.1.1", "2.2.2.2", "3.3.3.3", "x"}: must not have more than 3 nameservers',
    'spec.dnsConfig.nameservers[3]: Invalid value: "x": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    'spec.dnsConfig.options[0]: Required value: Option.Name must not be empty',
  ]);
  assert.equal(msgs({ hostAliases: [{ ip: 'nope', hostnames: ['ok.local'] }] }), ['spec.hostAliases[0].ip: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']);
  assert.equal(msgs({ dnsPolicy: 'None', dnsConfig: { nameservers: ['9.9.9.9'], searches: ['.', 'lan.'] } }), []);
});

test.run();
