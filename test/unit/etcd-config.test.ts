/**
 * The embedded etcd member's configuration: the config file etcd reads (TLS with client certificates
 * on both ports, the initial cluster, loopback and LAN listeners), the certificates issued for it
 * (usages, names, signed by the etcd CA, private keys 0600), the `corral server` flags that ask for
 * it (conflicts, the cluster token a joiner needs, the token --cluster-init makes) and the join proof.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { etcdConfig, etcdPaths, etcdTlsFiles, etcdUrl, renderEtcdConfig, type EtcdMemberSettings } from '../../server/etcd/etcd-config.js';
import { ensureEtcdCa, ensureMemberCerts } from '../../server/etcd/etcd-pki.js';
import { clusterTokenFile, embeddedEtcdSettings } from '../../cli/embedded-etcd-flags.js';
import { joinProof, sameSecret } from '../../server/etcd/join-routes.js';

const base: EtcdMemberSettings = {
  name: 'pi-1-abcd', dataDir: '/var/lib/corral/server/etcd/data', tlsDir: '/var/lib/corral/server/etcd/tls',
  advertiseAddress: '192.168.1.10', clientPort: 2379, peerPort: 2380,
  initialCluster: [{ name: 'pi-1-abcd', peerUrl: 'https://192.168.1.10:2380' }], initialClusterState: 'new',
};

test('a first member: TLS with client certificates on both ports, loopback and LAN client listeners', () => {
  const c = etcdConfig(base);
  assert.is(c['name'], 'pi-1-abcd');
  assert.is(c['data-dir'], base.dataDir);
  assert.is(c['listen-client-urls'], 'https://127.0.0.1:2379,https://192.168.1.10:2379');
  assert.is(c['advertise-client-urls'], 'https://192.168.1.10:2379');
  assert.is(c['listen-peer-urls'], 'https://192.168.1.10:2380');
  assert.is(c['initial-advertise-peer-urls'], 'https://192.168.1.10:2380');
  assert.is(c['initial-cluster'], 'pi-1-abcd=https://192.168.1.10:2380');
  assert.is(c['initial-cluster-state'], 'new');
  const tls = etcdTlsFiles(base.tlsDir);
  assert.equal(c['client-transport-security'], { 'cert-file': tls.serverCert, 'key-file': tls.serverKey, 'trusted-ca-file': tls.caCert, 'client-cert-auth': true });
  assert.equal(c['peer-transport-security'], { 'cert-file': tls.peerCert, 'key-file': tls.peerKey, 'trusted-ca-file': tls.caCert, 'client-cert-auth': true });
  assert.is(c['enable-v2'], false);
});

test('a joining member lists every member and starts with state existing; the text is YAML etcd reads', async () => {
  const s: EtcdMemberSettings = {
    ...base, name: 'pi-2-ef01', advertiseAddress: '192.168.1.11', initialClusterState: 'existing',
    initialCluster: [{ name: 'pi-1-abcd', peerUrl: 'https://192.168.1.10:2380' }, { name: 'pi-2-ef01', peerUrl: 'https://192.168.1.11:2380' }],
  };
  const parsed = parse(await renderEtcdConfig(s)) as Record<string, unknown>;
  assert.is(parsed['initial-cluster'], 'pi-1-abcd=https://192.168.1.10:2380,pi-2-ef01=https://192.168.1.11:2380');
  assert.is(parsed['initial-cluster-state'], 'existing');
  assert.equal(parsed, JSON.parse(JSON.stringify(etcdConfig(s))));
});

test('on loopback the client port is listened on once; IPv6 peers are bracketed; a cluster without this member is refused', () => {
  assert.is(etcdConfig({ ...base, advertiseAddress: '127.0.0.1', initialCluster: [{ name: base.name, peerUrl: 'https://127.0.0.1:2380' }] })['listen-client-urls'], 'https://127.0.0.1:2379');
  assert.is(etcdUrl('fd00::10', 2380), 'https://[fd00::10]:2380');
  assert.throws(() => etcdConfig({ ...base, initialCluster: [{ name: 'other', peerUrl: 'https://192.168.1.10:2380' }] }), /does not name this member pi-1-abcd/);
});

test('member certificates: signed by the etcd CA, the right usages and names, keys private; reissued for a new CA', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-etcd-pki-'));
  try {
    const ca = await ensureEtcdCa(dir);
    await ensureMemberCerts(dir, ca, '192.168.1.10');
    const f = etcdTlsFiles(dir);
    const caCert = new X509Certificate(ca.certPem);
    const load = (file: string): X509Certificate => new X509Certificate(readFileSync(file, 'utf8'));
    for (const [cert, key] of [[f.serverCert, f.serverKey], [f.peerCert, f.peerKey], [f.clientCert, f.clientKey], [f.caCert, f.caKey]] as const) {
      assert.is(statSync(key).mode & 0o777, 0o600, key);
      assert.ok(cert === f.caCert || load(cert).verify(caCert.publicKey), `${cert} is signed by the etcd CA`);
    }
    assert.match(load(f.serverCert).subjectAltName ?? '', /IP Address:192\.168\.1\.10/);
    assert.match(load(f.peerCert).subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    assert.equal(load(f.serverCert).keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(load(f.peerCert).keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.equal(load(f.clientCert).keyUsage, ['1.3.6.1.5.5.7.3.2']);
    const serverBefore = readFileSync(f.serverCert, 'utf8');
    await ensureMemberCerts(dir, ca, '192.168.1.10');
    assert.is(readFileSync(f.serverCert, 'utf8'), serverBefore, 'kept while still good');
    const other = await ensureEtcdCa(mkdtempSync(join(tmpdir(), 'corral-etcd-pki-other-')));
    await ensureEtcdCa(dir, other);
    await ensureMemberCerts(dir, other, '192.168.1.10');
    assert.ok(load(f.serverCert).verify(new X509Certificate(other.certPem).publicKey), 'reissued by the CA a (re)join brought');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('flags: --cluster-init makes and keeps a cluster token; --server needs one; conflicts are named', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'corral-etcd-flags-'));
  const saved = process.env['CORRAL_TOKEN'];
  delete process.env['CORRAL_TOKEN'];
  try {
    assert.is(embeddedEtcdSettings({}, dataDir, false), undefined, 'neither flag, no member: SQLite');
    assert.throws(() => embeddedEtcdSettings({ server: 'https://pi-1:6443' }, dataDir, false), /--server needs the cluster token/);
    assert.throws(() => embeddedEtcdSettings({ 'cluster-init': true, server: 'https://pi-1:6443' }, dataDir, false), /give one of them/);
    assert.throws(() => embeddedEtcdSettings({ 'cluster-init': true }, dataDir, true), /--datastore-endpoint/);
    assert.throws(() => embeddedEtcdSettings({ server: 'http://pi-1:6443' }, dataDir, false), /invalid --server/);
    const init = embeddedEtcdSettings({ 'cluster-init': true, 'etcd-client-port': '12379' }, dataDir, false)!;
    assert.is(init.joinUrls, undefined);
    assert.is(init.clientPort, 12379);
    assert.is(init.peerPort, 2380);
    assert.is(statSync(clusterTokenFile(dataDir)).mode & 0o777, 0o600);
    assert.is(readFileSync(clusterTokenFile(dataDir), 'utf8').trim(), init.clusterSecret);
    assert.is(embeddedEtcdSettings({ 'cluster-init': true }, dataDir, false)!.clusterSecret, init.clusterSecret, 'the same token at the next start');
    assert.throws(() => embeddedEtcdSettings({ 'cluster-init': true, 'etcd-peer-port': '70000' }, dataDir, false), /invalid --etcd-peer-port/);
    const tokenFile = join(dataDir, 'token');
    writeFileSync(tokenFile, 'a-cluster-token-of-enough-length\n', { mode: 0o600 });
    const joiner = embeddedEtcdSettings({ server: 'https://pi-1:6443, https://pi-2:6443', 'token-file': tokenFile }, mkdtempSync(join(tmpdir(), 'corral-etcd-flags-j-')), false)!;
    assert.equal(joiner.joinUrls, ['https://pi-1:6443', 'https://pi-2:6443']);
    assert.is(joiner.clusterSecret, 'a-cluster-token-of-enough-length');
    assert.ok(etcdPaths('/x/server').config.endsWith('/x/server/etcd/config.yaml'));
  } finally {
    if (saved !== undefined) process.env['CORRAL_TOKEN'] = saved;
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('join proof: bound to the secret, the nonce and the CA', () => {
  const p = joinProof('secret-one-xxxxxxxx', 'aa'.repeat(16), 'CA-PEM');
  assert.ok(sameSecret(p, joinProof('secret-one-xxxxxxxx', 'aa'.repeat(16), 'CA-PEM')));
  assert.not.ok(sameSecret(p, joinProof('secret-two-xxxxxxxx', 'aa'.repeat(16), 'CA-PEM')));
  assert.not.ok(sameSecret(p, joinProof('secret-one-xxxxxxxx', 'bb'.repeat(16), 'CA-PEM')));
  assert.not.ok(sameSecret(p, joinProof('secret-one-xxxxxxxx', 'aa'.repeat(16), 'OTHER-CA')));
});

test.run();
