import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { EndpointSlice, Endpoints, Pod, Service } from '../../api/types.js';
import { validateEndpointSlice } from '../../api/validation/endpoint-slice.js';
import { validateObject } from '../../api/validation/index.js';
import { resourceForKind } from '../../api/resources.js';
import {
  MANAGED_BY_CONTROLLER, MANAGED_BY_LABEL, MANAGED_BY_MIRRORING, SERVICE_NAME_LABEL, slicesForEndpoints, slicesForPods,
} from '../../server/controllers/endpoint-slice.js';

function svc(extra: Partial<Service['spec']> = {}): Service {
  return {
    metadata: { name: 'web', namespace: 'default', uid: 'svc-uid', labels: { app: 'web' } },
    spec: { selector: { app: 'web' }, clusterIP: '10.43.0.20', ports: [{ name: 'http', port: 80, targetPort: 'http' }], ...extra },
  };
}

function pod(name: string, ip: string | undefined, o: { ready?: boolean; node?: string; deleting?: boolean; port?: number; hostname?: string; subdomain?: string; phase?: string } = {}): Pod {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: { app: 'web' }, ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: {
      nodeName: o.node ?? 'n1',
      ...(o.hostname ? { hostname: o.hostname } : {}), ...(o.subdomain ? { subdomain: o.subdomain } : {}),
      containers: [{ name: 'c', ports: [{ name: 'http', containerPort: o.port ?? 8080 }] }],
    },
    status: {
      phase: (o.phase ?? 'Running') as 'Running',
      ...(ip ? { podIP: ip } : {}),
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  };
}

test('ready, serving and terminating conditions; nodeName, targetRef, labels, owner', () => {
  const slices = slicesForPods(svc(), [pod('a', '10.42.1.5'), pod('b', '10.42.1.6', { ready: false }), pod('c', '10.42.2.7', { deleting: true, node: 'n2' })]);
  assert.is(slices.length, 1);
  const s = slices[0]!;
  assert.is(s.addressType, 'IPv4');
  assert.equal(s.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
  assert.equal(s.endpoints.map((e) => [e.addresses[0], e.conditions]), [
    ['10.42.1.5', { ready: true, serving: true, terminating: false }],
    ['10.42.1.6', { ready: false, serving: false, terminating: false }],
    ['10.42.2.7', { ready: false, serving: true, terminating: true }],
  ]);
  assert.is(s.endpoints[2]!.nodeName, 'n2');
  assert.equal(s.endpoints[0]!.targetRef, { kind: 'Pod', namespace: 'default', name: 'a', uid: 'uid-a' });
  assert.is(s.metadata.labels![SERVICE_NAME_LABEL], 'web');
  assert.is(s.metadata.labels![MANAGED_BY_LABEL], MANAGED_BY_CONTROLLER);
  assert.is(s.metadata.labels!['app'], 'web');
  assert.equal(s.metadata.ownerReferences?.[0], { apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'svc-uid', controller: true, blockOwnerDeletion: true });
  assert.ok(s.metadata.name!.startsWith('web-'));
});

test('publishNotReadyAddresses marks every endpoint ready; pods without an IPv4 address or finished are left out', () => {
  const slices = slicesForPods(svc({ publishNotReadyAddresses: true }), [
    pod('a', '10.42.1.5', { ready: false }), pod('b', undefined), pod('c', 'fe80::1'), pod('d', '10.42.1.9', { phase: 'Succeeded' }), pod('e', '10.42.1.10; rm -rf /'),
  ]);
  assert.equal(slices[0]!.endpoints.map((e) => [e.addresses[0], e.conditions?.ready]), [['10.42.1.5', true]]);
});

test('at most 100 endpoints per slice; stable names; pods split by resolved port', () => {
  const pods = Array.from({ length: 250 }, (_, i) => pod(`p${i}`, `10.42.${Math.floor(i / 200)}.${(i % 200) + 1}`));
  pods.push(pod('other-port', '10.42.9.9', { port: 9090 }));
  const slices = slicesForPods(svc(), pods);
  const byPort = (p: number): EndpointSlice[] => slices.filter((s) => s.ports?.[0]?.port === p);
  assert.equal(byPort(8080).map((s) => s.endpoints.length), [100, 100, 50]);
  assert.equal(byPort(9090).map((s) => s.endpoints.length), [1]);
  assert.is(new Set(slices.map((s) => s.metadata.name)).size, 4);
  assert.equal(slicesForPods(svc(), pods).map((s) => s.metadata.name), slices.map((s) => s.metadata.name));
  for (const s of slices) assert.equal(validateEndpointSlice(s), []);
});

test('hostname for pods whose subdomain is the service; headless label', () => {
  const slices = slicesForPods(svc({ clusterIP: 'None' }), [pod('db-0', '10.42.1.5', { hostname: 'db-0', subdomain: 'web' }), pod('x', '10.42.1.6', { hostname: 'x', subdomain: 'other' })]);
  assert.equal(slices[0]!.endpoints.map((e) => e.hostname), ['db-0', undefined]);
  assert.is(slices[0]!.metadata.labels!['service.kubernetes.io/headless'], '');
});

test('mirroring a selector-less Service Endpoints', () => {
  const ep: Endpoints = { metadata: { name: 'web', namespace: 'default' }, subsets: [{ addresses: [{ ip: '192.168.1.10' }], notReadyAddresses: [{ ip: '192.168.1.11' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }] };
  const slices = slicesForEndpoints(svc({ selector: {} }), ep);
  assert.is(slices.length, 1);
  assert.is(slices[0]!.metadata.labels![MANAGED_BY_LABEL], MANAGED_BY_MIRRORING);
  assert.equal(slices[0]!.endpoints.map((e) => [e.addresses[0], e.conditions?.ready]), [['192.168.1.10', true], ['192.168.1.11', false]]);
  assert.equal(slicesForEndpoints(svc({ selector: {} }), undefined), []);
});

test('validation: address type, address count and format, hostname, duplicate port names, immutable type', () => {
  const info = resourceForKind('EndpointSlice')!;
  const base = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 's', namespace: 'default' } };
  const messages = (o: object, old?: object): string[] => validateObject(info, o as EndpointSlice, old as EndpointSlice | undefined).map((c) => `${c.field}: ${c.message}`);
  assert.equal(messages({ ...base, endpoints: [] }), ['addressType: Required value']);
  assert.equal(messages({ ...base, addressType: 'IPX', endpoints: [] }), ['addressType: Unsupported value: "IPX": supported values: "FQDN", "IPv4", "IPv6"']);
  assert.equal(messages({ ...base, addressType: 'IPv4', endpoints: [{ addresses: [] }] }), ['endpoints[0].addresses: Required value: must contain at least 1 address']);
  assert.equal(messages({ ...base, addressType: 'IPv4', endpoints: [{ addresses: Array(101).fill('10.0.0.1') }] }), ['endpoints[0].addresses: Too many: 101: must have at most 100 items']);
  assert.equal(messages({ ...base, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.300'], hostname: 'A_B' }] }), [
    'endpoints[0].addresses[0]: Invalid value: "10.0.0.300": must be a valid IPv4 address',
    'endpoints[0].hostname: Invalid value: "A_B": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or \'-\', and must start and end with an alphanumeric character (e.g. \'my-name\',  or \'123-abc\', regex used for validation is \'[a-z0-9]([-a-z0-9]*[a-z0-9])?\')',
  ]);
  assert.equal(messages({ ...base, addressType: 'IPv4', endpoints: [], ports: [{ name: 'a', protocol: 'TCP', port: 1 }, { name: 'a', protocol: 'TCP', port: 2 }] }), ['ports[1].name: Duplicate value: "a"']);
  assert.equal(messages({ ...base, addressType: 'IPv6', endpoints: [] }, { ...base, addressType: 'IPv4', endpoints: [] }), ['addressType: Invalid value: "IPv6": field is immutable']);
});

test.run();
