/**
 * The ingress proxy's routing table (pure): host matching with wildcards, Prefix/Exact/
 * ImplementationSpecific paths with upstream's precedence, defaultBackend, conflicts between
 * Ingresses, and the problems (missing Service or port) that become Events.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { hostMatches, normalizeHost, pathMatches, requestPathOf } from '../../agent/ingress/path-match.js';
import { RoutingTable } from '../../agent/ingress/routing-table.js';
import type { Ingress, IngressBackend, PathType } from '../../api/networking-types.js';
import type { EndpointSlice, Service } from '../../api/types.js';

const test = suite('ingress routing');

test('Prefix matches whole path elements, ignoring a trailing slash (the table of the Ingress API docs)', () => {
  const cases: [string, string, boolean][] = [
    ['/', '/anything', true], ['/foo', '/foo', true], ['/foo', '/foo/', true], ['/foo/', '/foo', true], ['/foo/', '/foo/', true],
    ['/aaa/bb', '/aaa/bbb', false], ['/aaa/bbb', '/aaa/bbb', true], ['/aaa/bbb/', '/aaa/bbb', true], ['/aaa/bbb', '/aaa/bbb/', true],
    ['/aaa/bbb', '/aaa/bbb/ccc', true], ['/aaa/bbb', '/aaa/bbbxyz', false], ['/foo', '/foobar', false],
  ];
  for (const [rule, req, want] of cases) assert.is(pathMatches('Prefix', rule, req), want, `Prefix ${rule} vs ${req}`);
  assert.ok(pathMatches('Exact', '/foo', '/foo'));
  assert.not.ok(pathMatches('Exact', '/foo', '/foo/'));
  assert.ok(pathMatches('ImplementationSpecific', '/foo', '/foobar'));
  assert.ok(pathMatches('ImplementationSpecific', '', '/x'));
});

test('hosts: exact (any case, port and trailing dot dropped), a wildcard covers exactly one label', () => {
  assert.is(normalizeHost('Foo.Example.COM:8080'), 'foo.example.com');
  assert.is(normalizeHost('foo.example.com.'), 'foo.example.com');
  assert.is(normalizeHost('[::1]:80'), '::1');
  assert.ok(hostMatches('*.example.com', 'a.example.com'));
  assert.not.ok(hostMatches('*.example.com', 'example.com'));
  assert.not.ok(hostMatches('*.example.com', 'a.b.example.com'));
  assert.is(requestPathOf('/a/b?x=/c'), '/a/b');
  assert.is(requestPathOf('http://h/x?y'), '/x');
});

const service = (name: string, ports: { name?: string; port: number }[]): Service => ({ metadata: { name, namespace: 'default' }, spec: { ports } } as Service);
const slice = (svc: string, ips: string[], port: number, portName = '', notReady: string[] = []): EndpointSlice => ({
  metadata: { name: `${svc}-x`, namespace: 'default', labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4',
  ports: [{ name: portName, port, protocol: 'TCP' }],
  endpoints: [...ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })), ...notReady.map((ip) => ({ addresses: [ip], conditions: { ready: false } }))],
} as EndpointSlice);

const SERVICES = new Map([
  ['a', service('a', [{ port: 80 }])],
  ['b', service('b', [{ name: 'http', port: 8080 }])],
  ['c', service('c', [{ port: 80 }])],
  ['d', service('d', [{ port: 80 }])],
]);
const SLICES = new Map([
  ['a', [slice('a', ['10.42.0.1'], 8000)]],
  ['b', [slice('b', ['10.42.0.2', '10.42.0.3'], 9000, 'http', ['10.42.0.9'])]],
  ['c', [slice('c', ['10.42.0.4'], 80)]],
  ['d', [slice('d', ['10.42.0.5'], 80)]],
]);
const sources = { service: (_ns: string, n: string) => SERVICES.get(n), slices: (_ns: string, n: string) => SLICES.get(n) ?? [] };
const be = (name: string, port: { name?: string; number?: number } = { number: 80 }): IngressBackend => ({ service: { name, port } });
const path = (p: string, pathType: PathType, backend: IngressBackend): { path: string; pathType: PathType; backend: IngressBackend } => ({ path: p, pathType, backend });
const ingress = (name: string, created: string, spec: NonNullable<Ingress['spec']>): Ingress => ({ metadata: { name, namespace: 'default', creationTimestamp: created }, spec });

test('host and path rules pick the right backend; the longest path wins, Exact before Prefix', () => {
  const table = new RoutingTable([
    ingress('one', '2026-01-01T00:00:00Z', {
      rules: [
        { host: 'app.lan', http: { paths: [path('/', 'Prefix', be('a')), path('/api', 'Prefix', be('b', { name: 'http' })), path('/api/v2', 'Exact', be('c'))] } },
        { host: '*.lan', http: { paths: [path('/', 'Prefix', be('c'))] } },
      ],
    }),
    ingress('two', '2026-01-02T00:00:00Z', { rules: [{ http: { paths: [path('/static', 'ImplementationSpecific', be('d'))] } }], defaultBackend: be('d') }),
  ], sources);
  assert.equal(table.route('app.lan', '/')?.endpoints, ['10.42.0.1:8000']);
  assert.equal(table.route('app.lan', '/api/users')?.endpoints, ['10.42.0.2:9000', '10.42.0.3:9000'], 'ready endpoints only, target port from the slice');
  assert.equal(table.route('app.lan', '/api/v2')?.endpoints, ['10.42.0.4:80']);
  assert.equal(table.route('app.lan', '/api/v2/x')?.endpoints, ['10.42.0.2:9000', '10.42.0.3:9000']);
  assert.equal(table.route('other.lan', '/x')?.endpoints, ['10.42.0.4:80'], 'the wildcard host');
  assert.equal(table.route('a.b.lan', '/staticfile')?.endpoints, ['10.42.0.5:80'], 'no host rule: any host, ImplementationSpecific is a string prefix');
  assert.equal(table.route('nothing.example', '/zzz')?.ingress, 'default/two', 'the defaultBackend');
});

test('the oldest Ingress keeps a host and path two claim; without a defaultBackend nothing matches', () => {
  const table = new RoutingTable([
    ingress('new', '2026-03-01T00:00:00Z', { rules: [{ host: 'x.lan', http: { paths: [path('/', 'Prefix', be('c'))] } }] }),
    ingress('old', '2026-01-01T00:00:00Z', { rules: [{ host: 'x.lan', http: { paths: [path('/', 'Prefix', be('a'))] } }] }),
  ], sources);
  assert.is(table.route('x.lan', '/')?.ingress, 'default/old');
  assert.is(table.route('y.lan', '/'), undefined);
});

test('a missing Service or port is a 503 target with a problem for the Ingress; TLS entries are collected', () => {
  const table = new RoutingTable([ingress('bad', '2026-01-01T00:00:00Z', {
    rules: [{ host: 'x.lan', http: { paths: [path('/', 'Prefix', be('ghost')), path('/p', 'Prefix', be('a', { number: 81 }))] } }],
    tls: [{ hosts: ['X.lan'], secretName: 'x-tls' }],
  })], sources);
  assert.is(table.route('x.lan', '/')?.problem, 'service "default/ghost" not found');
  assert.is(table.route('x.lan', '/p')?.problem, 'service "default/a" has no port 81');
  assert.equal(table.problems.get('default/bad')?.map((p) => p.reason), ['ServiceNotFound', 'ServicePortNotFound']);
  assert.equal(table.tls, [{ hosts: ['x.lan'], namespace: 'default', secretName: 'x-tls', ingress: 'default/bad' }]);
});

test.run();
