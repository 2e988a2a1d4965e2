/**
 * The server's resident memory depends on what it loads at start (docs/performance.md, "Footprint"):
 * a server on SQLite does not load etcd3 and gRPC (the etcd store is imported with --datastore-endpoint),
 * certificates are made by @peculiar/x509 in a child process (server/auth/cert-issuer.ts), YAML bodies
 * and /openapi/v2 in protobuf require their libraries at first use. This test loads what `corral server`
 * loads at start — the CLI, server/main.js and the local agent's agent/main.js — in a child process and
 * fails if one of those comes back as a static import; then it checks that the moved code still works.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DIST, loadedPackages } from '../support/loaded-modules.js';
import { compareStrings } from '../../api/object-util.js';
import { caHashOf, ensureTls, issueCertificate, SERVING_CERT_LIFETIME_MS } from '../../server/auth/pki.js';
import { renderKubeconfig } from '../../server/kubeconfig.js';
import { parseYamlQuietly } from '../../server/apiserver/body.js';

const ROOT = join(DIST, '..');

/** Package → where it is loaded instead. */
const KEPT_OUT: Record<string, string> = {
  etcd3: 'openBackend with --datastore-endpoint (server/store/etcd-store.ts), the embedded etcd, backup/restore',
  '@grpc/grpc-js': 'with etcd3',
  '@grpc/proto-loader': 'with etcd3',
  '@peculiar/x509': 'the certificate issuer\'s child process (server/auth/cert-issuer.ts)',
  'reflect-metadata': 'with @peculiar/x509',
  yaml: 'the first YAML body or apply patch (server/apiserver/body.ts parseYamlQuietly), config files',
  systeminformation: 'the agent\'s helper process',
  ssh2: 'corral join',
};

/** protobufjs's reflection and parser: /openapi/v2 in protobuf requires the light build at first use. */
const PROTOBUF_BEYOND_MINIMAL = /^(index|light)\.js$|^src\/(index-light|index|parse|root|type)\.js$/;

test('`corral server` with its local agent loads none of the kept-out packages at start', () => {
  const loaded = loadedPackages(['cli/corral.js', 'server/main.js', 'agent/main.js']);
  assert.ok(loaded.has('sqlite3') && loaded.has('hono') && loaded.has('ws'), `the server's own packages are seen (found: ${[...loaded.keys()].join(', ')})`);
  const wrong = Object.keys(KEPT_OUT).filter((p) => loaded.has(p));
  assert.equal(wrong, [], `loaded at start:\n${wrong.map((p) => `  ${p} (${loaded.get(p)!.slice(0, 2).join(', ')}): belongs in ${KEPT_OUT[p]}`).join('\n')}`);
  const protobuf = (loaded.get('protobufjs') ?? []).filter((f) => PROTOBUF_BEYOND_MINIMAL.test(f));
  assert.equal(protobuf, [], 'protobufjs beyond protobufjs/minimal is loaded at start');
});

test('the kept-out code loads where it belongs (the check sees them)', () => {
  const loaded = loadedPackages(['server/auth/cert-issuer.js', 'server/store/etcd-store.js']);
  for (const p of ['@peculiar/x509', 'reflect-metadata', 'etcd3', '@grpc/grpc-js']) assert.ok(loaded.has(p), `${p} not seen: ${[...loaded.keys()].join(', ')}`);
});

test('certificates made in the child process: a CA and a serving certificate that node:crypto verifies', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pki-'));
  try {
    const tls = await ensureTls(dir, ['corral.example', '10.9.8.7', 'fd00::5']);
    const ca = new X509Certificate(tls.caPem);
    const cert = new X509Certificate(tls.certPem);
    assert.ok(ca.ca && cert.verify(ca.publicKey), 'the serving certificate is signed by the CA');
    assert.match(cert.subjectAltName ?? '', 'DNS:corral.example');
    assert.match(cert.subjectAltName ?? '', 'IP Address:10.9.8.7');
    assert.ok(Math.abs(Date.parse(cert.validTo) - Date.now() - SERVING_CERT_LIFETIME_MS) < 3_600_000, `a year's lifetime: ${cert.validTo}`);
    assert.is(tls.caHash, caHashOf(tls.caPem));
    // Nothing changed: a second call keeps the certificate (IPv6 SANs compare in any spelling: ::1, fd00::5).
    assert.is((await ensureTls(dir, ['corral.example', '10.9.8.7', 'fd00::5'])).certPem, tls.certPem);
    const client = await issueCertificate({ certPem: tls.caPem, keyPem: readFileSync(join(dir, 'ca.key'), 'utf8') },
      { commonName: 'etcd-peer', sans: { dns: [], ips: ['10.0.0.1'] }, usages: ['serverAuth', 'clientAuth'], lifetimeMs: 60_000 });
    assert.ok(new X509Certificate(client.certPem).verify(ca.publicKey) && client.keyPem.includes('PRIVATE KEY'));
    // A bad CA key is the child's error, reported with its message.
    try {
      await issueCertificate({ certPem: tls.caPem, keyPem: 'not a key' }, { commonName: 'x', sans: { dns: [], ips: [] }, usages: ['serverAuth'], lifetimeMs: 60_000 });
      assert.unreachable('a bad CA key was accepted');
    } catch (err) {
      assert.match((err as Error).message, /certificate issuer exited 1/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the kubeconfig keeps plain `server: https://...` lines (edited with sed by users and tests), quotes what needs it', () => {
  const text = renderKubeconfig({ serverUrl: 'https://[fd00::1]:6443', caPem: 'x', token: 'k10abc.def' });
  assert.match(text, /\n {6}server: https:\/\/\[fd00::1\]:6443\n/);
  assert.match(text, /\n {6}token: k10abc\.def\n/);
  assert.is(parse(renderKubeconfig({ serverUrl: 'https://a:1', caPem: 'x', token: 'true' })).users[0].user.token, 'true');
  assert.is(parse(renderKubeconfig({ serverUrl: 'https://a:1', caPem: 'x', token: '0123' })).users[0].user.token, '0123');
});

test('the kubeconfig written without a YAML library reads back as the object kubectl expects', () => {
  const text = renderKubeconfig({ serverUrl: 'https://127.0.0.1:6443', caPem: 'PEM "quoted"\n', token: 'a:b#c' });
  assert.equal(parse(text), {
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'corral', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': Buffer.from('PEM "quoted"\n').toString('base64') } }],
    users: [{ name: 'admin', user: { token: 'a:b#c' } }],
    contexts: [{ name: 'corral', context: { cluster: 'corral', user: 'admin' } }],
    'current-context': 'corral',
    preferences: {},
  });
});

test('no localeCompare in the server, the agent or api/ (ICU collation data: ~3.6 MiB resident; upstream sorts byte-wise)', () => {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts') && /\.localeCompare\(/.test(readFileSync(path, 'utf8'))) found.push(path.slice(ROOT.length + 1));
    }
  };
  for (const dir of ['server', 'agent', 'api']) walk(join(ROOT, dir));
  assert.equal(found, [], 'use compareStrings (api/object-util.ts)');
  assert.equal(['b', 'B', 'a', '_'].sort(compareStrings), ['B', '_', 'a', 'b']);
});

test('YAML bodies parse with the library required at first use', () => {
  assert.equal(parseYamlQuietly('kind: Pod\nmetadata:\n  name: p\n'), { kind: 'Pod', metadata: { name: 'p' } });
});

test.run();
