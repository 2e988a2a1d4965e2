/**
 * Helpers of the LoadBalancer lab test and benchmark: web pods that tell who they are and who called,
 * LoadBalancer Services, and what a LAN client and the nodes see (HTTP, ARP, addresses).
 */
import type { Lab } from './harness.js';
import type { LabCluster } from './agent-cluster.js';

/** A web pod on a node answering its pod name on / and the client's address on /cgi-bin/ip. */
export function pod(node: string, labels: Record<string, string>): object {
  const script = 'mkdir -p /www/cgi-bin && hostname > /www/index.html'
    + ' && printf \'#!/bin/sh\\necho "Content-Type: text/plain"\\necho\\necho "$REMOTE_ADDR"\\n\' > /www/cgi-bin/ip && chmod +x /www/cgi-bin/ip'
    + ' && exec httpd -f -p 80 -h /www';
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: `web-${node}`, labels },
    spec: { nodeName: node, terminationGracePeriodSeconds: 1, containers: [{ name: 'httpd', image: 'busybox', imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', script], ports: [{ containerPort: 80 }] }] },
  };
}
export function lbService(name: string, selector: Record<string, string>, spec: Record<string, unknown> = {}): object {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { type: 'LoadBalancer', selector, ports: [{ name: 'http', port: 8080, targetPort: 80 }], ...spec } };
}
export const apply = (c: LabCluster, ...objs: object[]): Promise<string> => c.kubectlOk(['apply', '-f', '-'], objs.map((o) => JSON.stringify(o)).join('\n'));

/** One HTTP GET from a lab host (busybox wget, bounded); the body or undefined. */
export async function get(l: Lab, host: string, url: string): Promise<string | undefined> {
  const r = await l.exec(host, ['timeout', '2', 'busybox', 'wget', '-q', '-O', '-', url], { timeoutMs: 5_000 });
  return r.code === 0 ? r.stdout.trim() : undefined;
}
/** HTTP status of a GET (busybox wget prints "server returned error: HTTP/1.1 503 ..."). */
export async function status(l: Lab, host: string, url: string): Promise<{ code: number; body: string }> {
  const r = await l.exec(host, ['timeout', '2', 'busybox', 'wget', '-S', '-q', '-O', '-', url], { timeoutMs: 5_000 });
  const m = /HTTP\/1\.\d (\d{3})/.exec(r.stderr);
  return { code: m ? Number(m[1]) : 0, body: r.stdout };
}
/** The MACs answering ARP for `ip` as the client sees them. */
export async function arpingMacs(l: Lab, ip: string): Promise<string[]> {
  const r = await l.exec('client', ['arping', '-c', '3', '-w', '4', '-I', 'eth0', ip], { timeoutMs: 8_000 });
  return [...r.stdout.matchAll(/reply from [\d.]+ \[([0-9A-F:]+)\]/gi)].map((m) => m[1]!.toLowerCase());
}
export async function macOf(l: Lab, host: string): Promise<string> {
  // (/sys shows the root namespace's devices here: ask iproute2 in the host's netns.)
  const links = JSON.parse((await l.exec(host, ['ip', '-j', 'link', 'show', 'dev', 'eth0'])).stdout) as { address?: string }[];
  return (links[0]?.address ?? '').toLowerCase();
}
export async function holdsAddress(l: Lab, host: string, ip: string): Promise<boolean> {
  const out = (await l.exec(host, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout;
  return out.includes(` ${ip}/32 `);
}
export async function holders(l: Lab, ip: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of l.nodes) if (await holdsAddress(l, n.name, ip)) out.push(n.name);
  return out;
}
