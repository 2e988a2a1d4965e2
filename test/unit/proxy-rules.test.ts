import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { EndpointSlice, Service } from '../../api/types.js';
import {
  buildNatRuleSet, renderNatRules, renderNatRuleSet, renderServiceDelta, serviceChainName, endpointChainName, externalChainName, chainHash, renderLocalnetGuard,
  type NatInput,
} from '../../agent/proxy/rules.js';
import { chooseBackend, parseIptablesVersion, summarizeSave } from '../../agent/proxy/backend.js';

function svc(name: string, clusterIP: string, ports: NonNullable<Service['spec']['ports']>, extra: Partial<Service['spec']> = {}): Service {
  return { metadata: { name, namespace: 'default' }, spec: { clusterIP, ports, ...extra } };
}
function eps(name: string, ips: string[], ports: { name?: string; port: number; protocol?: 'TCP' | 'UDP' }[]): EndpointSlice {
  return {
    metadata: { name: `${name}-x`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4', endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
    ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
  };
}
function input(services: Service[], endpointSlices: EndpointSlice[], nodeIPs: string[] = []): NatInput {
  return { services, endpointSlices, nodeIPs, podCIDR: '10.42.1.0/24', clusterCIDR: '10.42.0.0/16', nodeName: 'n1' };
}
const rulesOf = (text: string, chain: string): string[] => text.split('\n').filter((l) => l.startsWith(`-A ${chain} `));

const web = svc('web', '10.43.0.10', [{ name: 'http', port: 80 }]);
const webEps = eps('web', ['10.42.1.7', '10.42.1.5', '10.42.2.6'], [{ name: 'http', port: 8080 }]);

test('a ClusterIP service with 3 endpoints: portal, masquerade of outside clients, 1/3 1/2 1 probabilities, DNATs', () => {
  const text = renderNatRules(input([web], [webEps]));
  assert.ok(text.startsWith('*nat\n'));
  assert.ok(text.endsWith('COMMIT\n'));
  const svcChain = serviceChainName('default', 'web', 'http', 'TCP');
  assert.match(svcChain, /^CORRAL-SVC-[A-Z2-7]{16}$/);
  assert.ok(svcChain.length <= 28, 'iptables chain names are at most 28 characters');
  assert.ok(text.includes(`:${svcChain} - [0:0]`));
  assert.equal(rulesOf(text, 'CORRAL-SERVICES'), [
    `-A CORRAL-SERVICES -d 10.43.0.10/32 -m comment --comment "default/web:http cluster IP" -p tcp -m tcp --dport 80 -j ${svcChain}`,
    '-A CORRAL-SERVICES -m comment --comment "corral node ports, last rule of this chain" -m addrtype --dst-type LOCAL -j CORRAL-NODEPORTS',
  ]);
  const svcRules = rulesOf(text, svcChain);
  assert.is(svcRules.length, 4);
  // The first rule's comment also carries the chain's content hash (restart sync).
  assert.match(svcRules[0]!, / h=[0-9a-f]{12}" /);
  assert.is(svcRules[0]!.replace(/ h=[0-9a-f]{12}"/, '"'), `-A ${svcChain} ! -s 10.42.0.0/16 -d 10.43.0.10/32 -m comment --comment "default/web:http cluster IP" -p tcp -m tcp --dport 80 -j CORRAL-MARK-MASQ`);
  // Endpoints in address order, each chosen with probability 1/(n-i); the last one unconditionally.
  const order = ['10.42.1.5', '10.42.1.7', '10.42.2.6'];
  order.forEach((ip, i) => {
    const sep = endpointChainName('default', 'web', 'http', 'TCP', `${ip}:8080`);
    const probability = ['0.3333333333', '0.5000000000', undefined][i];
    assert.is(
      svcRules[i + 1],
      `-A ${svcChain} -m comment --comment "default/web:http -> ${ip}:8080"${probability ? ` -m statistic --mode random --probability ${probability}` : ''} -j ${sep}`,
    );
    assert.equal(rulesOf(text, sep), [
      `-A ${sep} -s ${ip}/32 -m comment --comment "default/web:http" -j CORRAL-MARK-MASQ`,
      `-A ${sep} -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination ${ip}:8080`,
    ]);
  });
  assert.equal(rulesOf(text, 'CORRAL-MARK-MASQ'), ['-A CORRAL-MARK-MASQ -j MARK --or-mark 0x4000']);
  const post = rulesOf(text, 'CORRAL-POSTROUTING');
  assert.ok(post.includes('-A CORRAL-POSTROUTING -s 10.42.1.0/24 ! -d 10.42.0.0/16 -m comment --comment "corral pod traffic leaving the cluster network" -j MASQUERADE --random-fully'));
  assert.ok(post.includes('-A CORRAL-POSTROUTING -m comment --comment "corral service traffic requiring SNAT" -j MASQUERADE --random-fully'));
  // Only corral's own chains appear; built-in chains are never written by the restore text.
  for (const line of text.split('\n')) {
    if (line.startsWith(':') || line.startsWith('-A ') || line.startsWith('-X ')) assert.match(line, /^(:|-A |-X )CORRAL-/);
  }
});

test('NodePort: marked for masquerade and sent to the service chain, on every local address or only on the node IPs', () => {
  const np = svc('web', '10.43.0.10', [{ name: 'http', port: 80, nodePort: 30080 }], { type: 'NodePort' });
  const text = renderNatRules(input([np], [webEps]));
  const svcChain = serviceChainName('default', 'web', 'http', 'TCP');
  assert.equal(rulesOf(text, 'CORRAL-NODEPORTS'), [
    '-A CORRAL-NODEPORTS -m comment --comment "default/web:http node port" -p tcp -m tcp --dport 30080 -j CORRAL-MARK-MASQ',
    `-A CORRAL-NODEPORTS -m comment --comment "default/web:http node port" -p tcp -m tcp --dport 30080 -j ${svcChain}`,
  ]);
  const services = rulesOf(text, 'CORRAL-SERVICES');
  assert.match(services[services.length - 1]!, /-m addrtype --dst-type LOCAL -j CORRAL-NODEPORTS$/);
  const restricted = rulesOf(renderNatRules(input([np], [webEps], ['192.168.77.11'])), 'CORRAL-SERVICES');
  assert.is(restricted[restricted.length - 1], '-A CORRAL-SERVICES -d 192.168.77.11/32 -m comment --comment "corral node ports, last rules of this chain" -j CORRAL-NODEPORTS');
  // A ClusterIP service gets no NodePort rules even if a nodePort number is present.
  assert.equal(rulesOf(renderNatRules(input([svc('web', '10.43.0.10', [{ name: 'http', port: 80, nodePort: 30080 }])], [webEps])), 'CORRAL-NODEPORTS'), []);
});

test('sessionAffinity ClientIP: recent checks before the random choice, recent --set in each endpoint chain', () => {
  const sticky = svc('web', '10.43.0.10', [{ name: 'http', port: 80 }], { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } });
  const text = renderNatRules(input([sticky], [webEps]));
  const svcChain = serviceChainName('default', 'web', 'http', 'TCP');
  const rules = rulesOf(text, svcChain);
  const recentChecks = rules.filter((r) => r.includes('--rcheck'));
  assert.is(recentChecks.length, 3);
  const firstRandom = rules.findIndex((r) => r.includes('statistic'));
  assert.ok(rules.findIndex((r) => r.includes('--rcheck')) < firstRandom, 'affinity is checked first');
  const sep = endpointChainName('default', 'web', 'http', 'TCP', '10.42.1.5:8080');
  assert.ok(recentChecks[0]!.includes(`-m recent --rcheck --seconds 600 --reap --name ${sep} --mask 255.255.255.255 --rsource -j ${sep}`));
  assert.ok(rulesOf(text, sep)[1]!.includes(`-m recent --set --name ${sep} --mask 255.255.255.255 --rsource`));
});

test('no ready endpoints: no rules and no chains for the service (REJECT-free); headless and ExternalName ignored', () => {
  const empty = renderNatRules(input([web], [eps('web', [], [{ name: 'http', port: 8080 }])]));
  assert.not.ok(empty.includes('CORRAL-SVC-'));
  assert.not.ok(empty.includes('10.43.0.10'));
  const notReady = eps('web', ['10.42.1.5'], [{ name: 'http', port: 8080 }]);
  notReady.endpoints[0]!.conditions = { ready: false, serving: false, terminating: false };
  assert.not.ok(renderNatRules(input([web], [notReady])).includes('CORRAL-SEP-'));
  const headless = svc('db', 'None', [{ port: 5432 }]);
  const external = svc('ext', '', [{ port: 80 }], { type: 'ExternalName', externalName: 'example.org' });
  const text = renderNatRules(input([headless, external], [eps('db', ['10.42.1.9'], [{ port: 5432 }])]));
  assert.not.ok(text.includes('CORRAL-SVC-'));
});

test('ports are matched to endpoint ports by name and protocol; UDP uses the udp match', () => {
  const dns = svc('dns', '10.43.0.2', [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }]);
  const dnsEps = eps('dns', ['10.42.1.3'], [{ name: 'dns', port: 5353, protocol: 'UDP' }, { name: 'dns-tcp', port: 5354 }]);
  const text = renderNatRules(input([dns], [dnsEps]));
  assert.ok(text.includes('-p udp -m udp --dport 53 -j CORRAL-SVC-'));
  assert.ok(text.includes('-p udp -m comment --comment "default/dns:dns" -m udp -j DNAT --to-destination 10.42.1.3:5353'));
  assert.ok(text.includes('-p tcp -m comment --comment "default/dns:dns-tcp" -m tcp -j DNAT --to-destination 10.42.1.3:5354'));
  assert.is.not(serviceChainName('default', 'dns', 'dns', 'UDP'), serviceChainName('default', 'dns', 'dns-tcp', 'TCP'));
});

test('chain hashes are stable across runs and input order, and differ per service, port and endpoint', () => {
  assert.is(chainHash('default', 'web', 'http', 'TCP'), chainHash('default', 'web', 'http', 'TCP'));
  // A fixed value: changing the hash function would orphan chains on every node after an upgrade.
  assert.is(serviceChainName('default', 'web', 'http', 'TCP'), 'CORRAL-SVC-CPPOUM3HC4PKIZHX');
  const other = svc('api', '10.43.0.11', [{ name: 'http', port: 80 }]);
  const otherEps = eps('api', ['10.42.1.8'], [{ name: 'http', port: 8080 }]);
  const a = renderNatRules(input([web, other], [webEps, otherEps]));
  const b = renderNatRules(input([other, web], [otherEps, { ...webEps, endpoints: [...webEps.endpoints].reverse() }]));
  assert.is(a, b, 'the same services in another order render the same text');
  assert.is.not(serviceChainName('default', 'web', 'http', 'TCP'), serviceChainName('default', 'api', 'http', 'TCP'));
  assert.is.not(serviceChainName('default', 'web', 'http', 'TCP'), serviceChainName('other', 'web', 'http', 'TCP'));
  assert.is.not(endpointChainName('default', 'web', 'http', 'TCP', '10.42.1.5:8080'), endpointChainName('default', 'web', 'http', 'TCP', '10.42.1.5:8081'));
});

test('delta: an endpoint change rewrites only that service\'s chains and deletes its stale endpoint chain', () => {
  const other = svc('api', '10.43.0.11', [{ name: 'http', port: 80 }]);
  const otherEps = eps('api', ['10.42.1.8'], [{ name: 'http', port: 8080 }]);
  const before = buildNatRuleSet(input([web, other], [webEps, otherEps]));
  const after = buildNatRuleSet(input([web, other], [eps('web', ['10.42.1.5', '10.42.1.9'], [{ name: 'http', port: 8080 }]), otherEps]));
  const delta = renderServiceDelta(before, after)!;
  assert.ok(delta.startsWith('*nat\n') && delta.endsWith('COMMIT\n'));
  const webSvc = serviceChainName('default', 'web', 'http', 'TCP');
  assert.ok(delta.includes(`:${webSvc} - [0:0]`));
  assert.not.ok(delta.includes(serviceChainName('default', 'api', 'http', 'TCP')), 'the unchanged service is not touched');
  assert.not.ok(delta.includes(':CORRAL-SERVICES '), 'the portal chain is unchanged for endpoint churn');
  const gone = endpointChainName('default', 'web', 'http', 'TCP', '10.42.1.7:8080');
  assert.ok(delta.includes(`-X ${gone}`));
  assert.ok(delta.includes(`-X ${endpointChainName('default', 'web', 'http', 'TCP', '10.42.2.6:8080')}`));
  assert.ok(delta.includes(`:${endpointChainName('default', 'web', 'http', 'TCP', '10.42.1.9:8080')} - [0:0]`));
  assert.not.ok(delta.includes(`-X ${endpointChainName('default', 'web', 'http', 'TCP', '10.42.1.5:8080')}`));
  assert.is(renderServiceDelta(after, after), undefined, 'no change, no delta');
});

test('delta: a new or deleted service rewrites CORRAL-SERVICES and only its own chains', () => {
  const other = svc('api', '10.43.0.11', [{ name: 'http', port: 80 }]);
  const otherEps = eps('api', ['10.42.1.8'], [{ name: 'http', port: 8080 }]);
  const one = buildNatRuleSet(input([web], [webEps]));
  const two = buildNatRuleSet(input([web, other], [webEps, otherEps]));
  const added = renderServiceDelta(one, two)!;
  assert.ok(added.includes(':CORRAL-SERVICES - [0:0]'));
  assert.ok(added.includes(`:${serviceChainName('default', 'api', 'http', 'TCP')} - [0:0]`));
  assert.not.ok(added.includes(`:${serviceChainName('default', 'web', 'http', 'TCP')}`), 'web chains untouched');
  assert.ok(added.includes(`-A CORRAL-SERVICES -d 10.43.0.10/32`), 'the rewritten portal chain still sends web traffic');
  const removed = renderServiceDelta(two, one)!;
  assert.ok(removed.includes(`-X ${serviceChainName('default', 'api', 'http', 'TCP')}`));
  assert.ok(removed.includes(`-X ${endpointChainName('default', 'api', 'http', 'TCP', '10.42.1.8:8080')}`));
  assert.not.ok(removed.includes('10.43.0.11'));
});

test('full render deletes stale corral chains it is told about, never other chains', () => {
  const text = renderNatRuleSet(buildNatRuleSet(input([web], [webEps])), { existingChains: ['CORRAL-SVC-OLDOLDOLDOLDOLD', 'DOCKER', 'KUBE-SERVICES'] });
  assert.ok(text.includes(':CORRAL-SVC-OLDOLDOLDOLDOLD - [0:0]'));
  assert.ok(text.includes('-X CORRAL-SVC-OLDOLDOLDOLDOLD'));
  assert.not.ok(text.includes('DOCKER'));
  assert.not.ok(text.includes('KUBE-'));
});

test('backend choice: corral chains win, then the backend with more rules, then the iptables default', () => {
  assert.is(parseIptablesVersion('iptables v1.8.9 (nf_tables)'), 'nft');
  assert.is(parseIptablesVersion('iptables v1.8.9 (legacy)'), 'legacy');
  assert.is(parseIptablesVersion('iptables v1.6.1'), 'legacy');
  const save = '*nat\n:PREROUTING ACCEPT [0:0]\n:CORRAL-SERVICES - [0:0]\n-A PREROUTING -j CORRAL-SERVICES\n-A CORRAL-SERVICES -j RETURN\nCOMMIT\n';
  assert.equal(summarizeSave(save), { rules: 2, corralChains: 1 });
  assert.is(chooseBackend({ rules: 50, corralChains: 0 }, { rules: 3, corralChains: 2 }, 'legacy'), 'nft');
  assert.is(chooseBackend({ rules: 50, corralChains: 0 }, { rules: 3, corralChains: 0 }, 'nft'), 'legacy');
  assert.is(chooseBackend({ rules: 0, corralChains: 0 }, { rules: 7, corralChains: 0 }, 'legacy'), 'nft');
  assert.is(chooseBackend({ rules: 0, corralChains: 0 }, { rules: 0, corralChains: 0 }, 'legacy'), 'legacy');
  assert.is(chooseBackend(undefined, { rules: 0, corralChains: 0 }, 'nft'), 'nft');
});

test('node-local DNS: port 53 of the cluster DNS IP goes to this node\'s resolver, before any service rule', () => {
  const text = renderNatRules({ ...input([web], [webEps]), nodeLocalDns: { clusterIP: '10.43.0.10', target: '192.168.77.11:10053' } });
  const services = rulesOf(text, 'CORRAL-SERVICES');
  assert.is(services[0], '-A CORRAL-SERVICES -d 10.43.0.10/32 -p udp -m comment --comment "cluster DNS to this node" -m udp --dport 53 -j DNAT --to-destination 192.168.77.11:10053');
  assert.is(services[1], '-A CORRAL-SERVICES -d 10.43.0.10/32 -p tcp -m comment --comment "cluster DNS to this node" -m tcp --dport 53 -j DNAT --to-destination 192.168.77.11:10053');
  assert.not.ok(renderNatRules(input([web], [webEps])).includes('cluster DNS'));
});

function onNodes(name: string, placed: [string, string][], port = 8080): EndpointSlice {
  const sl = eps(name, placed.map(([ip]) => ip), [{ name: 'http', port }]);
  sl.endpoints.forEach((e, i) => { e.nodeName = placed[i]![1]; });
  return sl;
}

test('terminating endpoints still serving are used only when no endpoint is ready', () => {
  const sl = onNodes('web', [['10.42.1.5', 'n1'], ['10.42.2.6', 'n2']]);
  sl.endpoints[0]!.conditions = { ready: false, serving: true, terminating: true };
  assert.not.ok(renderNatRules(input([web], [sl])).includes('10.42.1.5:8080'), 'a ready endpoint exists: the terminating one gets nothing');
  sl.endpoints[1]!.conditions = { ready: false, serving: false, terminating: true };
  const text = renderNatRules(input([web], [sl]));
  assert.ok(text.includes('DNAT --to-destination 10.42.1.5:8080'), 'the last serving one keeps answering');
  assert.not.ok(text.includes('10.42.2.6:8080'));
});

test('internalTrafficPolicy Local: the ClusterIP reaches only this node\'s endpoints, or nothing', () => {
  const local = svc('web', '10.43.0.10', [{ name: 'http', port: 80 }], { internalTrafficPolicy: 'Local' });
  const text = renderNatRules(input([local], [onNodes('web', [['10.42.1.5', 'n1'], ['10.42.2.6', 'n2']])]));
  assert.ok(text.includes('DNAT --to-destination 10.42.1.5:8080'));
  assert.not.ok(text.includes('10.42.2.6'));
  const none = renderNatRules(input([local], [onNodes('web', [['10.42.2.6', 'n2']])]));
  assert.not.ok(none.includes('10.43.0.10/32'), 'no local endpoint: no translation');
});

test('externalTrafficPolicy Local: node port to local endpoints only, not masqueraded; pods keep the cluster path', () => {
  const np = svc('web', '10.43.0.10', [{ name: 'http', port: 80, nodePort: 30080 }], { type: 'NodePort', externalTrafficPolicy: 'Local' });
  const text = renderNatRules(input([np], [onNodes('web', [['10.42.1.5', 'n1'], ['10.42.2.6', 'n2']])]));
  const ext = externalChainName('default', 'web', 'http', 'TCP');
  assert.equal(rulesOf(text, 'CORRAL-NODEPORTS'), [`-A CORRAL-NODEPORTS -m comment --comment "default/web:http node port" -p tcp -m tcp --dport 30080 -j ${ext}`]);
  const extRules = rulesOf(text, ext);
  const svcChain = serviceChainName('default', 'web', 'http', 'TCP');
  assert.match(extRules[0]!, new RegExp(`^-A ${ext} -s 10\\.42\\.0\\.0/16 .* -j ${svcChain}$`));
  // The node itself (127.0.0.1 included) is masqueraded and takes the cluster path, as kube-proxy does.
  assert.is(extRules[1], `-A ${ext} -m comment --comment "default/web:http masquerade node-local traffic" -m addrtype --src-type LOCAL -j CORRAL-MARK-MASQ`);
  assert.is(extRules[2], `-A ${ext} -m comment --comment "default/web:http node-local traffic uses the cluster path" -m addrtype --src-type LOCAL -j ${svcChain}`);
  assert.is(extRules.length, 4, 'then one local endpoint');
  assert.ok(extRules[3]!.endsWith(`-j ${endpointChainName('default', 'web', 'http', 'TCP', '10.42.1.5:8080')}`));
  assert.not.ok(extRules.slice(3).some((r) => r.includes('CORRAL-MARK-MASQ')), 'outside clients keep their address');
  // The ClusterIP still spreads over both nodes.
  assert.ok(text.includes('DNAT --to-destination 10.42.2.6:8080'));
  // A node without local endpoints translates the node port only for pods and itself: outside clients get nothing.
  const elsewhere = renderNatRules({ ...input([np], [onNodes('web', [['10.42.2.6', 'n2']])]), nodeName: 'n1' });
  assert.equal(rulesOf(elsewhere, 'CORRAL-NODEPORTS'), [`-A CORRAL-NODEPORTS -m comment --comment "default/web:http node port" -p tcp -m tcp --dport 30080 -j ${ext}`]);
  const elsewhereExt = rulesOf(elsewhere, ext);
  assert.is(elsewhereExt.length, 3);
  assert.ok(elsewhereExt.every((r) => r.endsWith(`-j ${svcChain}`) || r.endsWith('-j CORRAL-MARK-MASQ')), 'no endpoint chain for outside clients');
  assert.ok(elsewhereExt[0]!.includes('-s 10.42.0.0/16') && elsewhereExt.slice(1).every((r) => r.includes('--src-type LOCAL')));
});

test('node ports on 127.0.0.1: the default jump matches every LOCAL address (loopback included) and the guard drops LAN packets to 127.0.0.0/8', () => {
  const np = svc('web', '10.43.0.10', [{ name: 'http', port: 80, nodePort: 30080 }], { type: 'NodePort' });
  const text = renderNatRules(input([np], [webEps]));
  assert.ok(rulesOf(text, 'CORRAL-SERVICES').at(-1)!.includes('-m addrtype --dst-type LOCAL -j CORRAL-NODEPORTS'));
  // Cluster policy: the loopback client is marked for masquerade (its 127.0.0.1 source cannot leave the node).
  assert.ok(rulesOf(text, 'CORRAL-NODEPORTS')[0]!.endsWith('--dport 30080 -j CORRAL-MARK-MASQ'));
  assert.equal(renderLocalnetGuard().split('\n'), [
    '*filter',
    ':CORRAL-FIREWALL - [0:0]',
    '-A CORRAL-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "corral: block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
    'COMMIT',
    '',
  ]);
});

test.run();
