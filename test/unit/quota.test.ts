/**
 * Quota arithmetic and LimitRange rules, pure: what a pod or service costs, scopes, which kinds a
 * quota resource counts, the "must specify" rule, LimitRange defaults and min/max/ratio messages.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resourceForKind } from '../../api/resources.js';
import type { Pod, ResourceQuota, Service } from '../../api/types.js';
import { missingComputeResources, quotaCovers, usageOf } from '../../server/apiserver/quota/usage.js';
import { kindsCounted } from '../../server/controllers/resourcequota.js';
import { applyLimitRangeDefaults, limitRangeViolations } from '../../server/apiserver/limit-ranger.js';

const podInfo = resourceForKind('Pod')!;

function pod(containers: Pod['spec']['containers'], extra: Partial<Pod['spec']> = {}, phase?: string): Pod {
  return { metadata: { name: 'p' }, spec: { containers, ...extra }, ...(phase ? { status: { phase } } : {}) } as Pod;
}

test('pod usage: containers summed, init containers as a maximum; finished pods cost nothing', () => {
  const p = pod([
    { name: 'a', image: 'x', resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { memory: '128Mi' } } },
    { name: 'b', image: 'x', resources: { requests: { cpu: '250m' } } },
  ], { initContainers: [{ name: 'i', image: 'x', resources: { requests: { cpu: '1' } } }] });
  assert.equal(usageOf(podInfo, p), {
    pods: '1', 'requests.cpu': '1', cpu: '1', 'requests.memory': '64Mi', memory: '64Mi', 'limits.memory': '128Mi', 'count/pods': '1',
  });
  assert.equal(usageOf(podInfo, pod([{ name: 'a', image: 'x' }], {}, 'Succeeded')), {});
});

test('service usage counts node ports and load balancers; count/<resource>.<group> for any kind', () => {
  const svc = { metadata: { name: 's' }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }, { port: 443 }] } } as Service;
  assert.equal(usageOf(resourceForKind('Service')!, svc), { services: '1', 'services.nodeports': '2', 'services.loadbalancers': '1', 'count/services': '1' });
  assert.equal(usageOf(resourceForKind('Deployment')!, { metadata: { name: 'd' } }), { 'count/deployments.apps': '1' });
  assert.equal(kindsCounted('count/deployments.apps').map((i) => i.kind), ['Deployment']);
  assert.equal(kindsCounted('limits.memory').map((i) => i.kind), ['Pod']);
  assert.equal(kindsCounted('requests.storage').map((i) => i.kind), ['PersistentVolumeClaim']);
  assert.equal(kindsCounted('count/nodes'), [], 'cluster-scoped kinds are not counted per namespace');
});

test('scopes select pods by QoS and deadline; scoped quotas ignore other kinds', () => {
  const q = (scopes: string[]): ResourceQuota => ({ metadata: { name: 'q' }, spec: { hard: { pods: '1' }, scopes } });
  const bestEffort = pod([{ name: 'a', image: 'x' }]);
  const burstable = pod([{ name: 'a', image: 'x', resources: { requests: { cpu: '1' } } }], { activeDeadlineSeconds: 30 });
  assert.ok(quotaCovers(q(['BestEffort']), podInfo, bestEffort));
  assert.not.ok(quotaCovers(q(['BestEffort']), podInfo, burstable));
  assert.ok(quotaCovers(q(['NotBestEffort', 'Terminating']), podInfo, burstable));
  assert.not.ok(quotaCovers(q(['NotTerminating']), podInfo, burstable));
  assert.not.ok(quotaCovers(q(['BestEffort']), resourceForKind('ConfigMap')!, { metadata: { name: 'c' } }));
  assert.ok(quotaCovers(q([]), resourceForKind('ConfigMap')!, { metadata: { name: 'c' } }));
});

test('PriorityClass scope selectors and the RuntimeClass overhead', () => {
  const selector = (operator: string, values?: string[]): ResourceQuota => ({
    metadata: { name: 'q' }, spec: { hard: { pods: '1' }, scopeSelector: { matchExpressions: [{ scopeName: 'PriorityClass', operator, ...(values ? { values } : {}) }] } },
  });
  const high = pod([{ name: 'a', image: 'x' }], { priorityClassName: 'high' });
  const plain = pod([{ name: 'a', image: 'x' }]);
  assert.ok(quotaCovers(selector('In', ['high', 'critical']), podInfo, high));
  assert.not.ok(quotaCovers(selector('In', ['critical']), podInfo, high));
  assert.ok(quotaCovers(selector('NotIn', ['critical']), podInfo, high));
  assert.ok(quotaCovers(selector('Exists'), podInfo, high));
  assert.not.ok(quotaCovers(selector('Exists'), podInfo, plain));
  assert.ok(quotaCovers(selector('DoesNotExist'), podInfo, plain));
  const withOverhead = pod([{ name: 'a', image: 'x', resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '64Mi' } } }], { overhead: { cpu: '50m', memory: '32Mi' } });
  const usage = usageOf(podInfo, withOverhead);
  assert.is(usage['requests.cpu'], '150m');
  assert.is(usage['requests.memory'], '96Mi', 'containers plus overhead');
  assert.is(usage['limits.memory'], '96Mi');
  assert.is(usage['limits.cpu'], undefined, 'no cpu limit set: the overhead adds none');
});

test('a cpu or memory quota requires every container to state them (upstream\'s message)', () => {
  const q: ResourceQuota = { metadata: { name: 'q' }, spec: { hard: { 'limits.cpu': '2', 'requests.memory': '1Gi', 'requests.storage': '1Gi' } } };
  const p = pod([{ name: 'b', image: 'x', resources: { limits: { cpu: '1' } } }, { name: 'a', image: 'x' }]);
  assert.is(missingComputeResources(q, p), 'must specify limits.cpu for: a; requests.memory for: a,b');
});

test('LimitRange: defaults fill only what is missing; min, max and ratio are checked per container and pod', () => {
  const items = [
    { type: 'Container', default: { cpu: '500m' }, defaultRequest: { cpu: '100m' }, max: { cpu: '1' }, maxLimitRequestRatio: { cpu: '4' } },
    { type: 'Pod', max: { memory: '1Gi' } },
  ];
  const p = pod([{ name: 'a', image: 'x', resources: { requests: { cpu: '200m' } } }, { name: 'b', image: 'x' }]);
  assert.is(applyLimitRangeDefaults(p, items), 'LimitRanger plugin set: cpu limit for container a; cpu request for container b; cpu limit for container b');
  assert.equal(p.spec.containers[0]!.resources, { requests: { cpu: '200m' }, limits: { cpu: '500m' } });
  assert.equal(limitRangeViolations(p, items), [
    'cpu max limit to request ratio per Container is 4, but provided ratio is 5.000000', // b: 500m over 100m
    'maximum memory usage per Pod is 1Gi.  No limit is specified',
  ]);
  const greedy = pod([{ name: 'a', image: 'x', resources: { requests: { cpu: '100m' }, limits: { cpu: '1500m', memory: '2Gi' } } }]);
  assert.equal(limitRangeViolations(greedy, items), [
    'maximum cpu usage per Container is 1, but limit is 1500m',
    'cpu max limit to request ratio per Container is 4, but provided ratio is 15.000000',
    'maximum memory usage per Pod is 1Gi, but limit is 2Gi',
  ]);
});

test.run();
