/**
 * networking.k8s.io/v1 Ingress and IngressClass: upstream's validation messages, the table columns
 * kubectl prints, and the DefaultIngressClass pick.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resourceForKind } from '../../api/resources.js';
import type { KubeObject } from '../../api/meta.js';
import { applyDefaults } from '../../api/defaults.js';
import { validateObject } from '../../api/validation/index.js';
import { PRINTERS } from '../../server/apiserver/table-printers.js';
import { pickDefaultIngressClass } from '../../server/apiserver/allocators/ingress-class-admission.js';
import type { Ingress, IngressClass } from '../../api/networking-types.js';

const test = suite('ingress api');

function lines(kind: string, obj: unknown, old?: unknown): string[] {
  const info = resourceForKind(kind)!;
  applyDefaults(kind, obj as KubeObject);
  return validateObject(info, obj as KubeObject, old as KubeObject | undefined).map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
}

const ing = (spec: unknown, annotations?: Record<string, string>): unknown => ({
  apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 'default', ...(annotations ? { annotations } : {}) }, spec,
});
const svc = (name: string, port: unknown = { number: 80 }): Record<string, unknown> => ({ service: { name, port } });

test('a well-formed Ingress passes; neither rules nor a defaultBackend is refused as upstream words it', () => {
  assert.equal(lines('Ingress', ing({
    ingressClassName: 'corral',
    rules: [{ host: 'a.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: svc('web') }] } },
      { host: '*.example.com', http: { paths: [{ path: '/x', pathType: 'Exact', backend: svc('web', { name: 'http' }) }] } }],
    tls: [{ hosts: ['a.example.com', '*.example.com'], secretName: 'web-tls' }],
  })), []);
  assert.equal(lines('Ingress', ing({})), ['spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified']);
});

test('hosts: no IP addresses, a wildcard only as the first label', () => {
  const found = lines('Ingress', ing({ rules: [{ host: '10.0.0.1' }, { host: 'a.*.com' }, { host: 'Upper.com' }] }));
  assert.ok(found.includes('spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address'), found.join('\n'));
  assert.ok(found.some((l) => l.startsWith('spec.rules[1].host: Invalid value: "a.*.com": a wildcard DNS-1123 subdomain must start with \'*.\'')), found.join('\n'));
  assert.ok(found.some((l) => l.startsWith('spec.rules[2].host: Invalid value: "Upper.com": a lowercase RFC 1123 subdomain')), found.join('\n'));
});

test('paths: pathType required, Exact/Prefix absolute and clean, unknown types listed', () => {
  const found = lines('Ingress', ing({
    rules: [{ http: { paths: [
      { path: '/a', backend: svc('web') },
      { path: 'rel', pathType: 'Prefix', backend: svc('web') },
      { path: '/a//b', pathType: 'Exact', backend: svc('web') },
      { path: '/a/..', pathType: 'Prefix', backend: svc('web') },
      { path: '/x', pathType: 'Regex', backend: svc('web') },
      { path: '', pathType: 'ImplementationSpecific', backend: svc('web') },
    ] } }],
  }));
  const p = 'spec.rules[0].http.paths';
  assert.equal(found, [
    `${p}[0].pathType: Required value: pathType must be specified`,
    `${p}[1].path: Invalid value: "rel": must be an absolute path`,
    `${p}[2].path: Invalid value: "/a//b": must not contain '//'`,
    `${p}[3].path: Invalid value: "/a/..": cannot end with '/..'`,
    `${p}[4].pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"`,
  ]);
  assert.equal(lines('Ingress', ing({ rules: [{ http: { paths: [] } }] })), ['spec.rules[0].http.paths: Required value']);
});

test('backends: a service needs a name and exactly one of port name and number; not both kinds', () => {
  const found = lines('Ingress', ing({
    defaultBackend: { service: { name: 'Web', port: { number: 70000 } } },
    rules: [{ http: { paths: [
      { path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { name: 'http', number: 80 } } } },
      { path: '/b', pathType: 'Prefix', backend: { service: { name: 'web' } } },
      { path: '/c', pathType: 'Prefix', backend: { ...svc('web'), resource: { kind: 'Bucket', name: 'b' } } },
      { path: '/d', pathType: 'Prefix', backend: {} },
    ] } }],
  }));
  const p = 'spec.rules[0].http.paths';
  assert.ok(found.some((l) => l.startsWith('spec.defaultBackend.service.name: Invalid value: "Web": a DNS-1035 label')), found.join('\n'));
  assert.ok(found.includes('spec.defaultBackend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive'), found.join('\n'));
  assert.ok(found.includes(`${p}[0].backend: Invalid value: "": cannot set both port name & port number`), found.join('\n'));
  assert.ok(found.includes(`${p}[1].backend: Required value: port name or number is required`), found.join('\n'));
  assert.ok(found.includes(`${p}[2].backend: Invalid value: "": cannot set both resource and service backends`), found.join('\n'));
  assert.ok(found.includes(`${p}[3].backend: Invalid value: "": resource or service backend is required`), found.join('\n'));
});

test('class name and the deprecated annotation must agree; TLS hosts and secret names are DNS names', () => {
  const found = lines('Ingress', ing({ ingressClassName: 'corral', defaultBackend: svc('web'), tls: [{ hosts: ['bad_host'], secretName: 'Bad' }] }, { 'kubernetes.io/ingress.class': 'nginx' }));
  assert.ok(found.includes('metadata.annotations.kubernetes.io/ingress.class: Invalid value: "nginx": must match `ingressClassName` when both are specified'), found.join('\n'));
  assert.ok(found.some((l) => l.startsWith('spec.tls[0].hosts[0]: Invalid value: "bad_host"')), found.join('\n'));
  assert.ok(found.some((l) => l.startsWith('spec.tls[0].secretName: Invalid value: "Bad"')), found.join('\n'));
});

test('IngressClass: a domain-prefixed controller, immutable; parameters scope defaulted to Cluster and checked', () => {
  const ic = (controller: string, parameters?: unknown): unknown => ({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'x' }, spec: { controller, ...(parameters ? { parameters } : {}) } });
  assert.equal(lines('IngressClass', ic('corral.dev/ingress-proxy')), []);
  assert.equal(lines('IngressClass', ic('nodomain')), ['spec.controller: Invalid value: "nodomain": must be a domain-prefixed path (such as "acme.io/foo")']);
  assert.equal(lines('IngressClass', ic('')), ['spec.controller: Required value']);
  assert.equal(lines('IngressClass', ic('a.io/new'), ic('a.io/old')), ['spec.controller: Invalid value: "a.io/new": field is immutable']);
  const withParams = ic('a.io/x', { kind: 'Config', name: 'c' }) as { spec: { parameters: { scope?: string } } };
  assert.equal(lines('IngressClass', withParams), []);
  assert.is(withParams.spec.parameters.scope, 'Cluster');
  assert.equal(lines('IngressClass', ic('a.io/x', { kind: 'Config', name: 'c', scope: 'Namespace' })), ["spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"]);
  assert.equal(lines('IngressClass', ic('a.io/x', { kind: 'Config', name: 'c', scope: 'Cluster', namespace: 'ns' })), ["spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"]);
});

test('kubectl columns: NAME CLASS HOSTS ADDRESS PORTS AGE and NAME CONTROLLER PARAMETERS AGE', () => {
  const printer = PRINTERS.get('networking.k8s.io/ingresses')!;
  assert.equal(printer.columns.map((c) => c.name), ['Name', 'Class', 'Hosts', 'Address', 'Ports', 'Age']);
  const now = new Date('2026-01-01T00:10:00Z');
  const i: Ingress = {
    metadata: { name: 'web', namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { ingressClassName: 'corral', rules: [{ host: 'a.lan' }, { host: 'b.lan' }, {}, { host: 'c.lan' }, { host: 'd.lan' }], tls: [{ secretName: 's' }] },
    status: { loadBalancer: { ingress: [{ ip: '192.168.1.2' }, { ip: '192.168.1.3' }] } },
  };
  assert.equal(printer.row(i, now).cells, ['web', 'corral', 'a.lan,b.lan,c.lan + 2 more...', '192.168.1.2,192.168.1.3', '80, 443', '10m']);
  assert.equal(printer.row({ metadata: { name: 'x', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { defaultBackend: {} } } as Ingress, now).cells, ['x', '<none>', '*', '', '80', '10m']);
  const classes = PRINTERS.get('networking.k8s.io/ingressclasses')!;
  assert.equal(classes.row({ metadata: { name: 'corral', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { controller: 'corral.dev/ingress-proxy', parameters: { apiGroup: 'k8s.example.com', kind: 'IngressParameters', name: 'external-lb' } } } as IngressClass, now).cells,
    ['corral', 'corral.dev/ingress-proxy', 'IngressParameters.k8s.example.com/external-lb', '10m']);
});

test('the default class: only annotated "true" ones, the newest wins', () => {
  const c = (name: string, created: string, value?: string): IngressClass => ({
    metadata: { name, creationTimestamp: created, ...(value ? { annotations: { 'ingressclass.kubernetes.io/is-default-class': value } } : {}) }, spec: { controller: 'a.io/b' },
  });
  assert.is(pickDefaultIngressClass([c('a', '2026-01-01T00:00:00Z'), c('b', '2026-01-01T00:00:00Z', 'false')]), undefined);
  assert.is(pickDefaultIngressClass([c('old', '2026-01-01T00:00:00Z', 'true'), c('new', '2026-02-01T00:00:00Z', 'true'), c('x', '2026-03-01T00:00:00Z')])?.metadata.name, 'new');
});

test.run();
