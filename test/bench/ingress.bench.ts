/**
 * Ingress proxy benchmark: requests/s and latency percentiles measured with `wrk` (Debian's), first
 * straight to a backend (the floor: what a client gets talking to the pod directly), then through the
 * agent's IngressProxy routing by Host to that same backend, in the same run, with the ratio. The
 * backend is a separate Node.js process answering 1 KiB; everything stays on loopback. Bounded: two
 * runs of 5 s (`--quick`: 2 s). Plain script: `node dist/test/bench/ingress.bench.js [--quick]`.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createSecureContext } from 'node:tls';
import { IngressProxy } from '../../agent/ingress/ingress-proxy.js';
import { RoutingTable } from '../../agent/ingress/routing-table.js';
import { createSelfSignedCert } from '../../agent/logs/tls.js';
import type { EndpointSlice, Service } from '../../api/types.js';

const QUICK = process.argv.includes('--quick');
const SECONDS = QUICK ? 2 : 5;
const CONNECTIONS = 32;

const BACKEND = `
const body = Buffer.alloc(1024, 120);
const s = require('node:http').createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }); res.end(body); });
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
`;

interface WrkResult { rps: number; p50: string; p99: string; errors: string }

/** wrk as a child process; never spawnSync: the proxy under test runs on this process's event loop. */
async function wrk(url: string, args = ['-t2', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency']): Promise<WrkResult> {
  const { stdout: out } = await promisify(execFile)('wrk', [...args, '-H', 'Host: bench.lan', url], { encoding: 'utf8', timeout: (SECONDS + 30) * 1000 });
  const pick = (re: RegExp): string => re.exec(out)?.[1] ?? '?';
  return {
    rps: Number(pick(/Requests\/sec:\s+([\d.]+)/)),
    p50: pick(/^\s+50%\s+(\S+)/m),
    p99: pick(/^\s+99%\s+(\S+)/m),
    errors: /Non-2xx|Socket errors/.test(out) ? (out.match(/(Non-2xx.*|Socket errors.*)/g) ?? []).join('; ') : 'none',
  };
}

async function main(): Promise<void> {
  if (spawnSync('wrk', ['--version']).error) throw new Error('wrk is not installed (apt-get install wrk; test/setup.sh installs it)');
  const backend = spawn(process.execPath, ['-e', BACKEND], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      backend.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      backend.once('exit', (code) => reject(new Error(`backend exited with ${code}`)));
    });
    const fallback = await createSelfSignedCert({ commonName: 'bench', dnsNames: ['bench.lan'], ips: [], lifetimeMs: 3600_000 });
    const stop = new AbortController();
    const proxy = new IngressProxy({
      bindAddress: '127.0.0.1', httpPort: 0, fallback: createSecureContext({ cert: fallback.certPem, key: fallback.keyPem }), signal: stop.signal,
    });
    await proxy.start();
    const svc = { metadata: { name: 'web', namespace: 'bench' }, spec: { ports: [{ port: 80 }] } } as Service;
    const slice = {
      metadata: { name: 'web-x', namespace: 'bench', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4',
      ports: [{ name: '', port, protocol: 'TCP' }], endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    } as EndpointSlice;
    proxy.setTable(new RoutingTable([{
      metadata: { name: 'web', namespace: 'bench', creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: { rules: [{ host: 'bench.lan', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
    }], { service: () => svc, slices: () => [slice] }));
    // Warm both paths (JIT, keep-alive pools) before measuring.
    await wrk(`http://127.0.0.1:${port}/`, ['-t1', '-c4', '-d1s']);
    await wrk(`http://127.0.0.1:${proxy.ports.http}/`, ['-t1', '-c4', '-d1s']);
    const direct = await wrk(`http://127.0.0.1:${port}/`);
    const through = await wrk(`http://127.0.0.1:${proxy.ports.http}/`);
    process.stdout.write(`wrk -t2 -c${CONNECTIONS} -d${SECONDS}s, 1 KiB responses, loopback, keep-alive\n`);
    process.stdout.write(`direct to the backend (floor):  ${direct.rps.toFixed(0)} req/s   p50 ${direct.p50}   p99 ${direct.p99}   errors: ${direct.errors}\n`);
    process.stdout.write(`through the ingress proxy:      ${through.rps.toFixed(0)} req/s   p50 ${through.p50}   p99 ${through.p99}   errors: ${through.errors}\n`);
    process.stdout.write(`ratio proxy/direct: ${(through.rps / direct.rps).toFixed(2)} of the requests/s\n`);
    stop.abort();
    await proxy.close();
  } finally {
    backend.kill('SIGKILL');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exitCode = 1;
});
