/**
 * TLS of corral's listeners, on the wire: TLS 1.2 offers only ECDHE + AEAD suites (a CBC or SHA-1
 * suite is refused) on the API server and on the kubelet endpoint; and certificates are renewed
 * while the processes run. With lifetimes shortened to seconds, the API server's serving
 * certificate (still negotiating h2 by ALPN) and an agent's kubelet certificate both change without a restart, the new ones chain
 * to the same CA (API) or are what the agent's Secret publishes (kubelet), and `kubectl logs`-style
 * relaying through the server keeps working across the kubelet rotation.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, getCiphers, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { ServerProcess } from '../support/server-process.js';
import { AgentProcess } from '../support/agent-process.js';
import { rawRequest } from '../support/fuzz.js';
import { waitUntil } from '../support/wait.js';
import type { Secret } from '../../api/types.js';

const LIFETIME_SECONDS = '9';

const it = suite<{ server: ServerProcess; agent: AgentProcess }>('tls');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'], env: { CORRAL_SERVING_CERT_LIFETIME_SECONDS: LIFETIME_SECONDS } });
  ctx.agent = await AgentProcess.start(ctx.server, { nodeName: 'tls-node', env: { CORRAL_KUBELET_CERT_LIFETIME_SECONDS: LIFETIME_SECONDS } });
});

it.after(async (ctx) => {
  await ctx.agent?.destroy();
  await ctx.server?.destroy();
});

interface Handshake { ok: boolean; cipher?: string; cert?: PeerCertificate; alpn?: string | false; error?: string }

function handshake(port: number, options: ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    socket.once('secureConnect', () => {
      resolve({ ok: true, cipher: socket.getCipher().name, cert: socket.getPeerCertificate(), alpn: socket.alpnProtocol ?? false });
      socket.destroy();
    });
    socket.once('error', (err) => resolve({ ok: false, error: err.message }));
  });
}

it('TLS 1.2 offers only ECDHE with AES-GCM or ChaCha20-Poly1305, on the API server and the kubelet endpoint', async ({ server, agent }) => {
  // The client side can speak these weak suites: a refusal is the server's choice.
  assert.ok(getCiphers().includes('ecdhe-ecdsa-aes128-sha'), 'this OpenSSL offers CBC suites');
  for (const [name, port] of [['api', server.port], ['kubelet', agent.kubeletPort]] as const) {
    for (const weak of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA384']) {
      const h = await handshake(port, { maxVersion: 'TLSv1.2', ciphers: weak });
      assert.not.ok(h.ok, `${name} accepted ${weak}`);
    }
    for (const good of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
      const h = await handshake(port, { maxVersion: 'TLSv1.2', ciphers: good });
      assert.ok(h.ok, `${name} refused ${good}: ${h.error}`);
      assert.is(h.cipher, good);
    }
    const tls13 = await handshake(port);
    assert.ok(tls13.ok, `${name}: TLS 1.3 ${tls13.error}`);
  }
});

it('the API server renews its serving certificate before expiry and reloads it without a restart', async ({ server }) => {
  const pid = server.child!.pid;
  const first = await handshake(server.port);
  const renewed = await waitUntil('a renewed API serving certificate', async () => {
    const h = await handshake(server.port);
    return h.cert && h.cert.fingerprint256 !== first.cert!.fingerprint256 ? h : undefined;
  }, 30_000, 500);
  assert.is(server.child!.pid, pid, 'same process');
  assert.ok(server.child!.exitCode === null);
  // Signed by the same CA, valid now, for the address clients use: a verifying client connects.
  const verified = await handshake(server.port, { rejectUnauthorized: true, ca: server.caPem });
  assert.ok(verified.ok, verified.error);
  // The reloaded context keeps ALPN: HTTP/2 for a client that offers it (kubectl), HTTP/1.1 for one that offers only that.
  const h2 = await handshake(server.port, { rejectUnauthorized: true, ca: server.caPem, ALPNProtocols: ['h2', 'http/1.1'] });
  assert.is(h2.alpn, 'h2');
  assert.is.not(h2.cert?.fingerprint256, first.cert!.fingerprint256, 'the HTTP/2 connection gets a renewed certificate');
  assert.is((await handshake(server.port, { rejectUnauthorized: true, ca: server.caPem, ALPNProtocols: ['http/1.1'] })).alpn, 'http/1.1');
  const cert = new X509Certificate(renewed.cert!.raw);
  assert.ok(cert.verify(new X509Certificate(server.caPem).publicKey), 'chains to the cluster CA');
  assert.ok(new Date(cert.validTo).getTime() > Date.now());
  // The in-process kubeconfig client (CA-verified) keeps working.
  assert.ok(Array.isArray((await server.client.listAll('Namespace')).items));
});

it('the agent renews its kubelet certificate, publishes it, and the server keeps relaying to it', async ({ server, agent }) => {
  await server.client.create('Pod', 'default', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'relay' },
    spec: { nodeName: agent.nodeName, containers: [{ name: 'c', image: 'busybox:1.36' }] },
  });
  const secretCert = async (): Promise<string> => {
    const s = await server.client.tryGet<Secret>('Secret', 'kube-system', `corral-kubelet-${agent.nodeName}`);
    return Buffer.from(String((s?.data as Record<string, string> | undefined)?.['tls.crt'] ?? ''), 'base64').toString('utf8');
  };
  const relayed = async (): Promise<string> => {
    const r = await rawRequest({ port: server.port, method: 'GET', target: '/api/v1/namespaces/default/pods/relay/log', headers: { authorization: `Bearer ${server.token}` } });
    return `${r.status} ${r.body.toString('utf8')}`;
  };
  // The server reached the agent through the pinned certificate (the agent answered: no container yet).
  await waitUntil('the server relaying to the agent', async () => (/waiting to start/.test(await relayed()) ? true : undefined), 20_000, 300);
  const first = await handshake(agent.kubeletPort);
  const renewed = await waitUntil('a renewed kubelet certificate', async () => {
    const h = await handshake(agent.kubeletPort);
    return h.cert && h.cert.fingerprint256 !== first.cert!.fingerprint256 ? h : undefined;
  }, 30_000, 500);
  assert.ok(agent.alive, 'same agent process');
  const served = new X509Certificate(renewed.cert!.raw);
  await waitUntil('the Secret to publish exactly the served certificate', async () => {
    const published = (await secretCert()).split(/(?<=-----END CERTIFICATE-----)\s*/).filter((p) => p.includes('BEGIN'));
    return published.length === 1 && new X509Certificate(published[0]!).fingerprint256 === served.fingerprint256 ? true : undefined;
  }, 15_000, 300);
  const after = await relayed();
  assert.match(after, /^400 .*waiting to start/, `relaying after the rotation: ${after}`);
});

it.run();
