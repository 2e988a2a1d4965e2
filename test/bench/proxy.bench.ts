/**
 * Service sync benchmark: render + apply of 1,000 services × 3 endpoints (full) and of one changed
 * service (delta), on the detected iptables backend, in a private network namespace created here.
 * Plain script (root): `node dist/test/bench/proxy.bench.js [services] [rounds]`. Prints figures.
 */
import { performance } from 'node:perf_hooks';
import type { EndpointSlice, Service } from '../../api/types.js';
import { IptablesApplier, buildNatRuleSet, detectIptablesBackend, renderNatRuleSet, renderServiceDelta, type NatInput } from '../../agent/proxy/index.js';
import { exec, execOk } from '../lab/exec.js';

const SERVICES = Number(process.argv[2] ?? 1000);
const ROUNDS = Number(process.argv[3] ?? 5);
const ns = `corral-pxb-${process.pid}`;
const prefix = ['nsenter', `--net=/run/netns/${ns}`];

function world(changed: number | undefined, generation: number): NatInput {
  const services: Service[] = [];
  const endpointSlices: EndpointSlice[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const name = `svc-${i}`;
    const ip = `10.43.${Math.floor(i / 250)}.${(i % 250) + 2}`;
    const nodePort = i % 10 === 0 ? { type: 'NodePort' as const, ports: [{ name: 'http', port: 80, nodePort: 30000 + (i % 2700) }] } : {};
    services.push({ metadata: { name, namespace: 'bench' }, spec: { clusterIP: ip, ports: [{ name: 'http', port: 80 }], ...nodePort } });
    const shift = i === changed ? generation : 0;
    const addresses = [0, 1, 2].map((k) => ({ ip: `10.42.${(i * 3 + k + shift) % 250}.${((i * 3 + k + shift) >> 8) % 250 + 2}` }));
    endpointSlices.push({
      metadata: { name: `${name}-x`, namespace: 'bench', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4', endpoints: addresses.map((a) => ({ addresses: [a.ip], conditions: { ready: true } })), ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
  }
  return { services, endpointSlices, nodeIPs: [], podCIDR: '10.42.1.0/24', clusterCIDR: '10.42.0.0/16' };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
const fmt = (ms: number): string => `${ms.toFixed(1)} ms`;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the proxy benchmark needs root (it creates a network namespace)');
  await execOk(['ip', 'netns', 'add', ns]);
  try {
    const backend = await detectIptablesBackend({ prefix });
    const applier = new IptablesApplier({ backend, prefix, timeoutMs: 120_000 });
    const fullRender: number[] = [];
    const fullApply: number[] = [];
    const deltaRender: number[] = [];
    const deltaApply: number[] = [];
    let chains = 0;
    let rules = 0;
    let fullBytes = 0;
    let deltaBytes = 0;
    for (let round = 0; round < ROUNDS; round++) {
      let t = performance.now();
      const input = world(undefined, 0);
      const set = buildNatRuleSet(input);
      const text = renderNatRuleSet(set);
      fullRender.push(performance.now() - t);
      chains = text.split('\n').filter((l) => l.startsWith(':')).length;
      rules = text.split('\n').filter((l) => l.startsWith('-A ')).length;
      fullBytes = text.length;
      applier.distrust(); // a complete rewrite every round (rounds after the first replace existing chains)
      const full = await applier.sync(set);
      fullApply.push(full.ms);

      t = performance.now();
      const changedSet = buildNatRuleSet(world(SERVICES >> 1, round + 1));
      const delta = renderServiceDelta(set, changedSet);
      deltaRender.push(performance.now() - t);
      deltaBytes = delta?.length ?? 0;
      const d = await applier.sync(changedSet);
      if (d.mode !== 'delta') throw new Error(`expected a delta sync, got ${d.mode}`);
      deltaApply.push(d.ms);
      // Back to the base world for the next round (a second delta, not measured).
      await applier.sync(set);
    }
    // An agent restart: a new applier finds every chain in place (content hashes match).
    const restartApply: number[] = [];
    const restartTotal: number[] = [];
    const rewriteAll: number[] = [];
    let rewritten = -1;
    const base = buildNatRuleSet(world(undefined, 0));
    for (let round = 0; round < ROUNDS; round++) {
      const restarted = new IptablesApplier({ backend, prefix, timeoutMs: 120_000 });
      const t = performance.now();
      const r = await restarted.sync(base);
      restartTotal.push(performance.now() - t);
      restartApply.push(r.ms);
      rewritten = r.rewrittenServices ?? -1;
      // The same with nothing trusted: every chain rewritten (what every restart did before).
      restarted.distrust();
      rewriteAll.push((await restarted.sync(base)).ms);
    }
    await applier.removeAll();
    const rows = [
      ['backend', backend],
      ['services × endpoints', `${SERVICES} × 3 (every 10th a NodePort)`],
      ['chains / rules', `${chains} / ${rules}`],
      ['full: build + render (median)', fmt(median(fullRender))],
      ['full: iptables-restore (median)', fmt(median(fullApply))],
      ['full: text size', `${(fullBytes / 1024).toFixed(0)} KiB`],
      ['delta (1 service): build + diff (median)', fmt(median(deltaRender))],
      ['delta (1 service): iptables-restore (median)', fmt(median(deltaApply))],
      ['delta: text size', `${deltaBytes} B`],
      ['restart: iptables-restore (median)', `${fmt(median(restartApply))} (${rewritten} services rewritten)`],
      ['restart: save + restore + jumps (median)', fmt(median(restartTotal))],
      ['restart, everything rewritten: restore (median)', fmt(median(rewriteAll))],
      ['rounds', String(ROUNDS)],
    ];
    for (const [k, v] of rows) process.stdout.write(`${k!.padEnd(46)} ${v}\n`);
    process.stdout.write(`${JSON.stringify({
      bench: 'proxy', backend, services: SERVICES, endpointsPerService: 3, chains, rules,
      fullRenderMs: median(fullRender), fullApplyMs: median(fullApply), deltaRenderMs: median(deltaRender), deltaApplyMs: median(deltaApply),
      restartApplyMs: median(restartApply), restartTotalMs: median(restartTotal), rewriteAllMs: median(rewriteAll),
    })}\n`);
  } finally {
    await exec(['ip', 'netns', 'delete', ns]);
  }
}

await main();
