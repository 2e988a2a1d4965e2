/**
 * The agent's rules for LoadBalancer Services (pure): load-balancer IPs from status.loadBalancer.ingress
 * forwarded like external IPs (with or without node ports), loadBalancerSourceRanges and the upstream
 * annotation through a firewall chain plus filter-table drops, the Local policy keeping the client
 * address and local endpoints, and the health-check node port targets.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { EndpointSlice, Service } from '../../api/types.js';
import { buildNatRuleSet, endpointChainName, externalChainName, firewallChainName, renderNatRules, renderProxyFirewall, serviceChainName, type NatInput } from '../../agent/proxy/rules.js';
import { healthCheckTargets } from '../../agent/network/service-health.js';

function lb(extra: Partial<Service['spec']> & Record<string, unknown> = {}, annotations?: Record<string, string>, ingress = ['192.168.77.240']): Service {
  return {
    metadata: { name: 'web', namespace: 'default', ...(annotations ? { annotations } : {}) },
    spec: { type: 'LoadBalancer', clusterIP: '10.43.0.10', ports: [{ name: 'http', port: 80, nodePort: 30080 }], ...extra } as Service['spec'],
    status: { loadBalancer: { ingress: ingress.map((ip) => ({ ip })) } },
  };
}
function slice(placed: [string, string][]): EndpointSlice {
  return {
    metadata: { name: 'web-x', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4', endpoints: placed.map(([ip, node]) => ({ addresses: [ip], nodeName: node, conditions: { ready: true } })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}
const both = slice([['10.42.1.5', 'n1'], ['10.42.2.6', 'n2']]);
function input(services: Service[], slices: EndpointSlice[] = [both]): NatInput {
  return { services, endpointSlices: slices, nodeIPs: [], nodeIP: '192.168.77.11', podCIDR: '10.42.1.0/24', clusterCIDR: '10.42.0.0/16', nodeName: 'n1' };
}
const rulesOf = (text: string, chain: string): string[] => text.split('\n').filter((l) => l.startsWith(`-A ${chain} `));
const svcChain = serviceChainName('default', 'web', 'http', 'TCP');
const extChain = externalChainName('default', 'web', 'http', 'TCP');
const fwChain = firewallChainName('default', 'web', 'http', 'TCP');

test('Cluster policy: the load-balancer IP:port is marked for masquerade and sent to the service chain, beside the node port', () => {
  const text = renderNatRules(input([lb({}, undefined, ['192.168.77.240', '192.168.77.241'])]));
  const lbRules = rulesOf(text, 'CORRAL-SERVICES').filter((r) => r.includes('loadbalancer IP'));
  assert.equal(lbRules, [
    '-A CORRAL-SERVICES -d 192.168.77.240/32 -m comment --comment "default/web:http loadbalancer IP" -p tcp -m tcp --dport 80 -j CORRAL-MARK-MASQ',
    `-A CORRAL-SERVICES -d 192.168.77.240/32 -m comment --comment "default/web:http loadbalancer IP" -p tcp -m tcp --dport 80 -j ${svcChain}`,
    '-A CORRAL-SERVICES -d 192.168.77.241/32 -m comment --comment "default/web:http loadbalancer IP" -p tcp -m tcp --dport 80 -j CORRAL-MARK-MASQ',
    `-A CORRAL-SERVICES -d 192.168.77.241/32 -m comment --comment "default/web:http loadbalancer IP" -p tcp -m tcp --dport 80 -j ${svcChain}`,
  ]);
  assert.is(rulesOf(text, 'CORRAL-NODEPORTS').length, 2, 'the node port stays');
  assert.is(renderProxyFirewall(buildNatRuleSet(input([lb()]))), '*filter\n:CORRAL-PROXY-FIREWALL - [0:0]\nCOMMIT\n', 'no source ranges: nothing dropped');
});

test('allocateLoadBalancerNodePorts false: no node port rules, the load-balancer IP still forwards', () => {
  const text = renderNatRules(input([lb({ allocateLoadBalancerNodePorts: false, ports: [{ name: 'http', port: 80 }] })]));
  assert.equal(rulesOf(text, 'CORRAL-NODEPORTS'), []);
  assert.ok(rulesOf(text, 'CORRAL-SERVICES').some((r) => r.startsWith('-A CORRAL-SERVICES -d 192.168.77.240/32') && r.endsWith(`-j ${svcChain}`)));
  assert.ok(text.includes('DNAT --to-destination 10.42.2.6:8080'));
});

test('a pending Service (no ingress yet), another type, or no endpoints: no load-balancer rules', () => {
  assert.not.ok(renderNatRules(input([lb({}, undefined, [])])).includes('loadbalancer IP'));
  assert.not.ok(renderNatRules(input([lb({ type: 'NodePort' })])).includes('192.168.77.240'), 'a stale status on a NodePort Service is ignored');
  assert.not.ok(renderNatRules(input([lb()], [])).includes('192.168.77.240'));
});

test('loadBalancerSourceRanges: allowed ranges go through the firewall chain, the rest is dropped in the filter table', () => {
  const set = buildNatRuleSet(input([lb({ loadBalancerSourceRanges: ['10.77.0.0/24', '203.0.113.7/32'] })]));
  const text = renderNatRules(input([lb({ loadBalancerSourceRanges: ['10.77.0.0/24', '203.0.113.7/32'] })]));
  assert.equal(rulesOf(text, 'CORRAL-SERVICES').filter((r) => r.includes('192.168.77.240')), [
    `-A CORRAL-SERVICES -d 192.168.77.240/32 -m comment --comment "default/web:http loadbalancer IP" -p tcp -m tcp --dport 80 -j ${fwChain}`,
  ]);
  assert.equal(rulesOf(text, fwChain), [
    `-A ${fwChain} -s 10.77.0.0/24 -m comment --comment "default/web:http loadbalancer IP" -j CORRAL-MARK-MASQ`,
    `-A ${fwChain} -s 10.77.0.0/24 -m comment --comment "default/web:http loadbalancer IP" -j ${svcChain}`,
    `-A ${fwChain} -s 203.0.113.7/32 -m comment --comment "default/web:http loadbalancer IP" -j CORRAL-MARK-MASQ`,
    `-A ${fwChain} -s 203.0.113.7/32 -m comment --comment "default/web:http loadbalancer IP" -j ${svcChain}`,
  ]);
  assert.ok(text.includes(`:${fwChain} - [0:0]`));
  assert.is(renderProxyFirewall(set), [
    '*filter',
    ':CORRAL-PROXY-FIREWALL - [0:0]',
    '-A CORRAL-PROXY-FIREWALL -d 192.168.77.240/32 -m comment --comment "default/web:http traffic not accepted by loadBalancerSourceRanges" -p tcp -m tcp --dport 80 -j DROP',
    'COMMIT',
    '',
  ].join('\n'));
  // The range holds this node's address: the node reaching the VIP it holds (source = the VIP) is allowed too.
  const node = renderNatRules({ ...input([lb({ loadBalancerSourceRanges: ['192.168.77.0/24'] })]) });
  assert.ok(rulesOf(node, fwChain).some((r) => r.startsWith(`-A ${fwChain} -s 192.168.77.240/32 `)));
  const notNode = renderNatRules(input([lb({ loadBalancerSourceRanges: ['10.77.0.0/24'] })]));
  assert.not.ok(rulesOf(notNode, fwChain).some((r) => r.includes('-s 192.168.77.240/32')));
});

test('the upstream source-ranges annotation applies when the spec field is empty; the spec field wins', () => {
  const annotated = lb({}, { 'service.beta.kubernetes.io/load-balancer-source-ranges': ' 10.77.0.0/24 ,10.88.0.0/16' });
  const text = renderNatRules(input([annotated]));
  assert.equal(rulesOf(text, fwChain).filter((r) => r.endsWith(svcChain)).map((r) => r.split(' ')[3]), ['10.77.0.0/24', '10.88.0.0/16']);
  const both2 = lb({ loadBalancerSourceRanges: ['10.99.0.0/16'] }, { 'service.beta.kubernetes.io/load-balancer-source-ranges': '10.77.0.0/24' });
  assert.equal(rulesOf(renderNatRules(input([both2])), fwChain).filter((r) => r.endsWith(svcChain)).map((r) => r.split(' ')[3]), ['10.99.0.0/16']);
  // Even without endpoints the drop stays: traffic outside the ranges never reaches the node's own sockets.
  assert.match(renderProxyFirewall(buildNatRuleSet(input([annotated], []))), /-d 192\.168\.77\.240\/32 .* -j DROP/);
});

test('externalTrafficPolicy Local: the load-balancer IP goes to the external chain (local endpoints, client address kept)', () => {
  const text = renderNatRules(input([lb({ externalTrafficPolicy: 'Local' })]));
  assert.equal(rulesOf(text, 'CORRAL-SERVICES').filter((r) => r.includes('loadbalancer IP')), [
    `-A CORRAL-SERVICES -d 192.168.77.240/32 -m comment --comment "default/web:http loadbalancer IP" -p tcp -m tcp --dport 80 -j ${extChain}`,
  ]);
  const ext = rulesOf(text, extChain);
  const pick = ext.filter((r) => r.includes('-> '));
  assert.equal(pick, [`-A ${extChain} -m comment --comment "default/web:http -> 10.42.1.5:8080" -j ${endpointChainName('default', 'web', 'http', 'TCP', '10.42.1.5:8080')}`], 'only the endpoint on n1');
  assert.not.ok(ext.some((r) => r.includes('CORRAL-MARK-MASQ') && !r.includes('--src-type LOCAL')), 'outside clients are not masqueraded');
  // With source ranges, the firewall chain leads to the external chain.
  const ranged = renderNatRules(input([lb({ externalTrafficPolicy: 'Local', loadBalancerSourceRanges: ['10.77.0.0/24'] })]));
  assert.equal(rulesOf(ranged, fwChain), [`-A ${fwChain} -s 10.77.0.0/24 -m comment --comment "default/web:http loadbalancer IP" -j ${extChain}`]);
});

test('health-check node ports: Local LoadBalancer Services only, counting this node\'s ready endpoints', () => {
  const local = lb({ externalTrafficPolicy: 'Local', healthCheckNodePort: 31999 });
  const cluster = { ...lb({ healthCheckNodePort: 31998 }), metadata: { name: 'other', namespace: 'default' } };
  const three = slice([['10.42.1.5', 'n1'], ['10.42.1.6', 'n1'], ['10.42.2.6', 'n2']]);
  three.endpoints[1]!.conditions = { ready: false };
  assert.equal(healthCheckTargets([local, cluster], [three], 'n1'), [{ port: 31999, namespace: 'default', name: 'web', localEndpoints: 1 }]);
  assert.equal(healthCheckTargets([local], [three], 'n3'), [{ port: 31999, namespace: 'default', name: 'web', localEndpoints: 0 }]);
});

test.run();
