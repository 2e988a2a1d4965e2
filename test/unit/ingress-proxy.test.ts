/**
 * The ingress proxy on loopback with real backends (node:http servers, a ws WebSocket echo): routing
 * by host and path, X-Forwarded-* headers, keep-alive to the client, retry on a refused endpoint,
 * 404/503, body and header limits, a slow client cut off, TLS by SNI from a certificate with the
 * fallback for other names, and a WebSocket echo through the proxy.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, request, Agent, type IncomingMessage, type Server } from 'node:http';
import { connect as tlsConnect, createSecureContext } from 'node:tls';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { IngressProxy } from '../../agent/ingress/ingress-proxy.js';
import { RoutingTable } from '../../agent/ingress/routing-table.js';
import { createSelfSignedCert } from '../../agent/logs/tls.js';
import type { Ingress } from '../../api/networking-types.js';
import type { EndpointSlice, Service } from '../../api/types.js';

const test = suite('ingress proxy');

interface Backend { server: Server; port: number; seen: IncomingMessage[] }

async function backend(name: string): Promise<Backend> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    let size = 0;
    req.on('data', (c: Buffer) => { size += c.length; });
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name, url: req.url, size, headers: req.headers }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

let a: Backend;
let b: Backend;
let ws: { server: Server; port: number };
let deadPort: number;
let proxy: IngressProxy;
let http: number;
let https: number;
const certs = { secure: undefined as unknown as { certPem: string; keyPem: string }, fallback: undefined as unknown as { certPem: string; keyPem: string } };

const svc = (name: string): Service => ({ metadata: { name, namespace: 'default' }, spec: { ports: [{ port: 80 }] } } as Service);
const slice = (name: string, ports: number[]): EndpointSlice => ({
  metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4',
  ports: [{ name: '', port: ports[0]!, protocol: 'TCP' }],
  endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
} as EndpointSlice);

function table(): RoutingTable {
  // One port per slice: the retry case gets two slices, a dead endpoint (nothing listens there) and a live one.
  const retrySlices: EndpointSlice[] = [
    { ...slice('flaky', [deadPort]), endpoints: [{ addresses: ['127.0.0.2'], conditions: { ready: true } }] } as EndpointSlice,
    { ...slice('flaky', [a.port]), metadata: { name: 'flaky-2', namespace: 'default', labels: { 'kubernetes.io/service-name': 'flaky' } }, endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }] } as EndpointSlice,
  ];
  // The two slices carry different ports for the same port name; the table takes each slice's own.
  const slices = new Map<string, EndpointSlice[]>([['a', [slice('a', [a.port])]], ['b', [slice('b', [b.port])]], ['ws', [slice('ws', [ws.port])]], ['flaky', retrySlices]]);
  const services = new Map(['a', 'b', 'ws', 'flaky'].map((n) => [n, svc(n)]));
  const be = (name: string): { service: { name: string; port: { number: number } } } => ({ service: { name, port: { number: 80 } } });
  const ing: Ingress = {
    metadata: { name: 'web', namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      rules: [
        { host: 'one.lan', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('a') }, { path: '/b', pathType: 'Prefix', backend: be('b') }] } },
        { host: 'two.lan', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('b') }] } },
        { host: 'ws.lan', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('ws') }] } },
        { host: 'flaky.lan', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('flaky') }] } },
        { host: 'ghost.lan', http: { paths: [{ path: '/', pathType: 'Prefix', backend: be('ghost') }] } },
      ],
      tls: [{ hosts: ['secure.lan'], secretName: 'secure' }],
    },
  };
  return new RoutingTable([ing], { service: (_ns, n) => services.get(n), slices: (_ns, n) => slices.get(n) ?? [] });
}

function get(host: string, path: string, opts: { agent?: Agent; headers?: Record<string, string>; method?: string; body?: Buffer | string; chunked?: boolean } = {}): Promise<{ status: number; body: string; socketPort: number }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port: http, path, method: opts.method ?? 'GET', agent: opts.agent ?? false,
      headers: { host, ...(opts.headers ?? {}) },
    }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, socketPort: res.socket?.localPort ?? 0 }));
    });
    req.on('error', reject);
    if (opts.chunked) {
      for (let i = 0; i < 8; i++) req.write(Buffer.alloc(1024, 1));
      req.end();
    } else {
      req.end(opts.body);
    }
  });
}

test.before(async () => {
  a = await backend('a');
  b = await backend('b');
  const wsHttp = createServer();
  const wss = new WebSocketServer({ server: wsHttp });
  wss.on('connection', (sock, req) => {
    sock.on('message', (data) => sock.send(`echo:${data.toString()}:${req.headers['x-forwarded-host']}`));
  });
  await new Promise<void>((r) => wsHttp.listen(0, '127.0.0.1', r));
  ws = { server: wsHttp, port: (wsHttp.address() as AddressInfo).port };
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  deadPort = (dead.address() as AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));
  certs.secure = await createSelfSignedCert({ commonName: 'secure.lan', dnsNames: ['secure.lan'], ips: [], lifetimeMs: 3600_000 });
  certs.fallback = await createSelfSignedCert({ commonName: 'fallback', dnsNames: ['ingress.corral.invalid'], ips: [], lifetimeMs: 3600_000 });
  proxy = new IngressProxy({
    bindAddress: '127.0.0.1', httpPort: 0, httpsPort: 0,
    fallback: createSecureContext({ cert: certs.fallback.certPem, key: certs.fallback.keyPem }),
    limits: { maxBodyBytes: 4096, maxHeaderBytes: 2048, headersTimeoutMs: 400, requestTimeoutMs: 1000 },
    signal: new AbortController().signal,
  });
  await proxy.start();
  proxy.setTable(table());
  proxy.certificates.replace([{ hosts: ['secure.lan'], context: createSecureContext({ cert: certs.secure.certPem, key: certs.secure.keyPem }) }]);
  http = proxy.ports.http!;
  https = proxy.ports.https!;
});

test.after(async () => {
  await proxy.close();
  for (const s of [a.server, b.server, ws.server]) s.closeAllConnections();
  await Promise.all([a.server, b.server, ws.server].map((s) => new Promise((r) => s.close(r))));
});

test('routes by host and path, and sets X-Forwarded-For/Proto/Host/Port', async () => {
  const r1 = JSON.parse((await get('one.lan', '/x?q=1')).body) as { name: string; url: string; headers: Record<string, string> };
  assert.is(r1.name, 'a');
  assert.is(r1.url, '/x?q=1');
  assert.is(r1.headers['host'], 'one.lan', 'the Host header passes unchanged');
  assert.is(r1.headers['x-forwarded-for'], '127.0.0.1');
  assert.is(r1.headers['x-forwarded-proto'], 'http');
  assert.is(r1.headers['x-forwarded-host'], 'one.lan');
  assert.is(r1.headers['x-forwarded-port'], String(http));
  assert.is((JSON.parse((await get('one.lan', '/b/c')).body) as { name: string }).name, 'b');
  assert.is((JSON.parse((await get('TWO.lan:80', '/')).body) as { name: string }).name, 'b');
  const chained = JSON.parse((await get('one.lan', '/', { headers: { 'x-forwarded-for': '192.168.1.50', 'x-forwarded-proto': 'https' } })).body) as { headers: Record<string, string> };
  assert.is(chained.headers['x-forwarded-for'], '192.168.1.50, 127.0.0.1', 'appended to what the client sent');
  assert.is(chained.headers['x-forwarded-proto'], 'http', 'the scheme is the proxy\'s own, not the client\'s claim');
});

test('unknown host → 404, a missing Service → 503, and the proxy keeps serving', async () => {
  assert.is((await get('nobody.lan', '/')).status, 404);
  const ghost = await get('ghost.lan', '/');
  assert.is(ghost.status, 503);
  assert.match(ghost.body, /service "default\/ghost" not found/);
  assert.is((await get('one.lan', '/')).status, 200);
});

test('HTTP/1.1 keep-alive: several requests on one client connection', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const ports = new Set<number>();
  for (let i = 0; i < 5; i++) {
    const r = await get(i % 2 ? 'one.lan' : 'two.lan', '/', { agent });
    assert.is(r.status, 200);
    ports.add(r.socketPort);
  }
  agent.destroy();
  assert.is(ports.size, 1, 'one client socket served all five');
});

test('a refused endpoint is retried on the next one: every GET succeeds', async () => {
  for (let i = 0; i < 6; i++) {
    const r = await get('flaky.lan', '/');
    assert.is(r.status, 200, r.body);
  }
});

test('bodies over the limit get 413 (declared or chunked); headers over the limit get 431', async () => {
  assert.is((await get('one.lan', '/', { method: 'POST', body: Buffer.alloc(5000) })).status, 413);
  const ok = await get('one.lan', '/', { method: 'POST', body: Buffer.alloc(3000) });
  assert.is(ok.status, 200);
  assert.is((JSON.parse(ok.body) as { size: number }).size, 3000);
  const chunked = await get('one.lan', '/', { method: 'POST', chunked: true }).catch((e: Error) => ({ status: -1, body: e.message }));
  assert.ok(chunked.status === 413 || chunked.status === -1, `a chunked body over the limit is refused (${chunked.status})`);
  assert.is((await get('one.lan', '/', { headers: { 'x-big': 'x'.repeat(4000) } })).status, 431);
});

test('a client that never finishes its headers is cut off (408) after the header timeout', async () => {
  const started = Date.now();
  const answer = await new Promise<string>((resolve) => {
    const s = netConnect(http, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: one.lan\r\n'));
    let got = '';
    s.on('data', (c: Buffer) => { got += c.toString(); });
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
  });
  assert.match(answer, /^HTTP\/1\.1 408/);
  assert.ok(Date.now() - started < 5_000, 'within a few seconds');
});

test('TLS: the Secret\'s certificate for its SNI name, the fallback for other names, and routing by Host', async () => {
  const handshake = (servername: string): Promise<{ cn: string; authorized: boolean; body: string }> => new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: https, servername, ca: certs.secure.certPem, rejectUnauthorized: false }, () => {
      const cn = String(s.getPeerCertificate().subject?.CN ?? '');
      const authorized = s.authorized;
      s.write(`GET /b HTTP/1.1\r\nHost: ${servername === 'secure.lan' ? 'one.lan' : servername}\r\nConnection: close\r\n\r\n`);
      let body = '';
      s.on('data', (c: Buffer) => { body += c.toString(); });
      s.on('end', () => resolve({ cn, authorized, body }));
    });
    s.on('error', reject);
  });
  const secure = await handshake('secure.lan');
  assert.is(secure.cn, 'secure.lan');
  assert.ok(secure.authorized, 'the client verifies the certificate for the SNI name');
  assert.match(secure.body, /"name":"b"/);
  assert.match(secure.body, /"x-forwarded-proto":"https"/);
  const other = await handshake('other.lan');
  assert.is(other.cn, 'fallback');
  assert.not.ok(other.authorized);
});

test('WebSocket: an echo passes through the proxy, with the forwarded host', async () => {
  const client = new WebSocket(`ws://127.0.0.1:${http}/chat`, { headers: { host: 'ws.lan' } });
  const reply = await new Promise<string>((resolve, reject) => {
    client.on('open', () => client.send('hello'));
    client.on('message', (d) => resolve(d.toString()));
    client.on('error', reject);
  });
  client.close();
  assert.is(reply, 'echo:hello:ws.lan');
  // An upgrade for an unknown host is answered, not hung.
  const refused = new WebSocket(`ws://127.0.0.1:${http}/`, { headers: { host: 'nobody.lan' } });
  const status = await new Promise<number>((resolve) => {
    refused.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    refused.on('error', () => resolve(-1));
  });
  assert.is(status, 404);
});

test.run();
