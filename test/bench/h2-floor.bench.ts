/**
 * HTTP/1.1 against HTTP/2 on the bare floor (prints figures, asserts nothing, ends by itself):
 *
 *   node dist/test/bench/h2-floor.bench.js [--quick]
 *
 * Two `bare-https-floor.js` processes with the same certificate, one `node:https`, one `node:http2`
 * (`--h2`), each answering a pod-sized JSON POST as a server that does no storage work would. The
 * same shapes are driven alternately against both: one client one request at a time; 50 requests in
 * flight over 50 connections (HTTP/1.1's only way, and HTTP/2 with one stream per connection); 50
 * streams on one HTTP/2 connection (what client-go does: one connection per host). Printed: requests/s
 * and the CPU each request cost the server and this client process, which moves far less than the
 * rate on a shared machine. It says how much of a create's server CPU the protocol alone can save.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { connect, type ClientHttp2Session } from 'node:http2';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ensureTls } from '../../server/auth/pki.js';
import { cpuMs } from '../support/proc-stat.js';

const quick = process.argv.includes('--quick');
const ONE = quick ? 1500 : 4000;
const MANY = quick ? 5000 : 15000;
const ROUNDS = quick ? 2 : 3;
const CONC = 50;
const BODY = Buffer.from(JSON.stringify({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name: 'bench-0', namespace: 'bench', labels: { app: 'bench', tier: 'a' } },
  spec: { containers: [{ name: 'web', image: 'busybox:1.35', command: ['httpd', '-f', '-p', '8080'], resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
}));
const PATH = '/api/v1/namespaces/bench/pods';

interface Floor { child: ChildProcess; port: number }

async function startFloor(tlsDir: string, listFile: string, h2: boolean): Promise<Floor> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'bare-https-floor.js');
  const args = [script, join(tlsDir, 'server.key'), join(tlsDir, 'server.crt'), listFile, ...(h2 ? ['--h2'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`floor server exited with ${code}`)));
    child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  return { child, port };
}

/** A client that sends one POST and resolves with its status once the whole answer is read. */
type Post = () => Promise<number>;

function h1Client(port: number, ca: string, sockets: number): { post: Post; close(): void } {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets, ca });
  const post: Post = () => new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: PATH, method: 'POST', agent, servername: 'localhost',
      headers: { 'content-type': 'application/json', 'content-length': BODY.length } }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(BODY);
  });
  return { post, close: () => agent.destroy() };
}

async function h2Session(port: number, ca: string): Promise<ClientHttp2Session> {
  const session = connect(`https://127.0.0.1:${port}`, { ca, servername: 'localhost' });
  await new Promise<void>((resolve, reject) => { session.once('connect', () => resolve()); session.once('error', reject); });
  if (session.alpnProtocol !== 'h2') throw new Error(`negotiated ${session.alpnProtocol}`);
  return session;
}

function h2Post(session: ClientHttp2Session): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/json', 'content-length': BODY.length });
    let status = 0;
    stream.on('response', (h) => { status = Number(h[':status']); });
    stream.on('data', () => undefined);
    stream.on('end', () => resolve(status));
    stream.on('error', reject);
    stream.end(BODY);
  });
}

/** Runs `total` POSTs with `conc` in flight, each worker using its own `post`; returns rate and CPU per request. */
async function drive(pid: number, posts: Post[], total: number): Promise<{ rate: number; serverUs: number; clientUs: number }> {
  let next = 0;
  const s0 = cpuMs(pid);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(posts.map(async (post) => {
    while (next < total) {
      next++;
      const status = await post();
      if (status !== 201) throw new Error(`POST answered ${status}`);
    }
  }));
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { rate: Math.round(total / ms * 1000), serverUs: (cpuMs(pid) - s0) * 1000 / total, clientUs: (c.user + c.system) / total };
}

type Shape = { name: string; total: number; run(floor: Floor, ca: string, total: number): Promise<{ rate: number; serverUs: number; clientUs: number }> };

const shapes = (h2: boolean): Shape[] => h2 ? [
  { name: 'h2, 1 client', total: ONE, async run(f, ca, n) { const s = await h2Session(f.port, ca); try { return await drive(f.child.pid!, [() => h2Post(s)], n); } finally { s.close(); } } },
  { name: 'h2, 50 streams on 1 connection', total: MANY, async run(f, ca, n) {
    const s = await h2Session(f.port, ca);
    try { return await drive(f.child.pid!, Array.from({ length: CONC }, () => () => h2Post(s)), n); } finally { s.close(); }
  } },
  { name: 'h2, 50 connections', total: MANY, async run(f, ca, n) {
    const ss = await Promise.all(Array.from({ length: CONC }, () => h2Session(f.port, ca)));
    try { return await drive(f.child.pid!, ss.map((s) => () => h2Post(s)), n); } finally { for (const s of ss) s.close(); }
  } },
] : [
  { name: 'h1, 1 client', total: ONE, async run(f, ca, n) { const c = h1Client(f.port, ca, 1); try { return await drive(f.child.pid!, [c.post], n); } finally { c.close(); } } },
  { name: 'h1, 50 connections', total: MANY, async run(f, ca, n) {
    const c = h1Client(f.port, ca, CONC);
    try { return await drive(f.child.pid!, Array.from({ length: CONC }, () => c.post), n); } finally { c.close(); }
  } },
];

async function main(): Promise<void> {
  process.stdout.write(`h2 floor bench (node ${process.version}, ${new Date().toISOString()}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})\n`);
  const dir = mkdtempSync(join(tmpdir(), 'corral-h2floor-'));
  const tls = await ensureTls(join(dir, 'tls'), ['localhost']);
  const listFile = join(dir, 'list.json');
  writeFileSync(listFile, '{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}');
  const h1 = await startFloor(join(dir, 'tls'), listFile, false);
  const h2 = await startFloor(join(dir, 'tls'), listFile, true);
  try {
    const results = new Map<string, string[]>();
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate the protocols within each round so both see the same minutes of machine load.
      for (const [floor, isH2] of [[h1, false], [h2, true]] as const) {
        for (const shape of shapes(isH2)) {
          await shape.run(floor, tls.caPem, Math.min(500, shape.total)); // warm-up of this shape
          const m = await shape.run(floor, tls.caPem, shape.total);
          const list = results.get(shape.name) ?? [];
          list.push(`${m.rate}/s, server ${m.serverUs.toFixed(0)} µs, client ${m.clientUs.toFixed(0)} µs`);
          results.set(shape.name, list);
        }
      }
    }
    for (const [name, list] of results) process.stdout.write(`${name.padEnd(34)} ${list.join(' | ')}\n`);
    process.stdout.write(`load average after: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
  } finally {
    h1.child.kill();
    h2.child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => { process.stderr.write(`${(err as Error).stack ?? String(err)}\n`); process.exit(1); });
