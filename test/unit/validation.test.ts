import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resourceForKind } from '../../api/resources.js';
import { errors } from '../../api/status.js';
import type { StatusCause, StatusError } from '../../api/status.js';
import type { KubeObject } from '../../api/meta.js';
import { applyDefaults } from '../../api/defaults.js';
import {
  validateObject, isDNS1123Subdomain, isDNS1123Label, isDNS1035Label, isQualifiedName, isValidLabelValue, isCIdentifier,
  isEnvVarName, isRelaxedEnvVarName, isConfigMapKey, isValidPortName, validateLabels, validateAnnotations,
  cronScheduleError, timeZoneError, toNodeCronExpression,
} from '../../api/validation/index.js';

// ------------------------------------------------------------------------------------ helpers

/** Defaults then validates, as the API server does on create (and on update when `old` is given). */
function check(kind: string, obj: KubeObject, old?: KubeObject): StatusCause[] {
  const info = resourceForKind(kind);
  if (!info) throw new Error(`unknown kind ${kind}`);
  applyDefaults(kind, obj);
  if (old) applyDefaults(kind, old);
  return validateObject(info, obj, old);
}

/** "field: message" lines, the way kubectl lists causes. */
function lines(kind: string, obj: KubeObject, old?: KubeObject): string[] {
  return check(kind, obj, old).map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
}

function has(found: string[], expected: string): void {
  assert.ok(found.includes(expected), `expected ${JSON.stringify(expected)} in:\n  ${found.join('\n  ')}`);
}

function hasPrefix(found: string[], prefix: string): void {
  assert.ok(found.some((l) => l.startsWith(prefix)), `expected a line starting ${JSON.stringify(prefix)} in:\n  ${found.join('\n  ')}`);
}

/** kubectl's rendering of a 422 (cmdutil.checkErr + MultilineError + statusCausesToAggrError). */
function kubectlMessage(err: StatusError): string {
  const status = err.toStatus();
  const d = status.details!;
  const head = `The ${d.kind} ${JSON.stringify(d.name)} is invalid`;
  const msgs = [...new Set((d.causes ?? []).map((c) => `${c.field}: ${c.message}`))];
  return msgs.length === 1 ? `${head}: ${msgs[0]}` : `${head}: \n${msgs.map((m) => `* ${m}`).join('\n')}`;
}

const SUBDOMAIN_MSG = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

function pod(spec: Record<string, unknown>, name = 'p'): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec };
}

function container(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'app', image: 'nginx:1.27', ...extra };
}

function deployment(overrides: { selector?: unknown; labels?: Record<string, string>; spec?: Record<string, unknown>; podSpec?: Record<string, unknown> } = {}): KubeObject {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' },
    spec: {
      selector: 'selector' in overrides ? overrides.selector : { matchLabels: { app: 'web' } },
      template: { metadata: { labels: overrides.labels ?? { app: 'web' } }, spec: { containers: [container()], ...overrides.podSpec } },
      ...overrides.spec,
    },
  };
}

// ------------------------------------------------------------------------------------ names

const names = suite('names');

names('DNS-1123 subdomain: length, charset, dots', () => {
  assert.equal(isDNS1123Subdomain('example.com'), []);
  assert.equal(isDNS1123Subdomain('a'.repeat(253)), []);
  assert.equal(isDNS1123Subdomain('a'.repeat(254)), ['must be no more than 253 characters']);
  assert.equal(isDNS1123Subdomain('Bad_Name'), [SUBDOMAIN_MSG]);
  assert.equal(isDNS1123Subdomain('-lead').length, 1);
  assert.equal(isDNS1123Subdomain('trail.').length, 1);
});

names('DNS-1123 label: 63 chars, dots reported specially', () => {
  assert.equal(isDNS1123Label('my-name'), []);
  assert.equal(isDNS1123Label('a'.repeat(64)), ['must be no more than 63 characters']);
  assert.equal(isDNS1123Label('a.b'), ['must not contain dots']);
  assert.equal(isDNS1123Label('Upper'), [LABEL_MSG]);
});

names('DNS-1035 label must start with a letter', () => {
  assert.equal(isDNS1035Label('web-1'), []);
  assert.equal(isDNS1035Label('1web'), ["a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]);
});

names('qualified names: prefix and name parts', () => {
  assert.equal(isQualifiedName('app.kubernetes.io/name'), []);
  assert.equal(isQualifiedName('MyName'), []);
  assert.equal(isQualifiedName('/x'), ['prefix part must be non-empty']);
  assert.equal(isQualifiedName('Example.com/x')[0]?.startsWith('prefix part a lowercase RFC 1123 subdomain'), true);
  assert.equal(isQualifiedName('a/'), ['name part must be non-empty', "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]);
  assert.equal(isQualifiedName('x'.repeat(64))[0], 'name part must be no more than 63 characters');
  assert.ok(isQualifiedName('a/b/c')[0]!.startsWith("a qualified name must consist of alphanumeric characters, '-', '_' or '.'"));
  assert.ok(isQualifiedName('a/b/c')[0]!.endsWith("with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"));
});

names('label values: empty ok, 63 max, alphanumeric ends', () => {
  assert.equal(isValidLabelValue(''), []);
  assert.equal(isValidLabelValue('v1.2_3-x'), []);
  assert.equal(isValidLabelValue('x'.repeat(64)), ['must be no more than 63 characters']);
  assert.equal(isValidLabelValue('-bad').length, 1);
  assert.ok(isValidLabelValue('bad-')[0]!.startsWith('a valid label must be an empty string or consist of'));
});

names('C identifiers and environment variable names (v1.32 relaxed rule)', () => {
  assert.equal(isCIdentifier('MY_VAR1'), []);
  assert.equal(isCIdentifier('1VAR').length, 1);
  assert.equal(isEnvVarName('my.env-name'), []);
  assert.equal(isEnvVarName('1abc').length, 1);
  assert.equal(isEnvVarName('..x'), ["must not start with '..'"]);
  assert.equal(isRelaxedEnvVarName('1 weird:name!'), []);
  assert.equal(isRelaxedEnvVarName('A=B'), ["a valid environment variable name must consist only of printable ASCII characters other than '='"]);
  assert.equal(isRelaxedEnvVarName('tab\there').length, 1);
  assert.equal(isRelaxedEnvVarName('é').length, 1);
  assert.equal(isRelaxedEnvVarName(''), ['environment variable name must be non-empty']);
});

names('config keys and IANA port names', () => {
  assert.equal(isConfigMapKey('app.properties'), []);
  assert.equal(isConfigMapKey('..data'), ["must not start with '..'"]);
  assert.equal(isConfigMapKey('a/b').length, 1);
  assert.equal(isValidPortName('http'), []);
  assert.equal(isValidPortName('http-metrics-long'), ['must be no more than 15 characters']);
  assert.equal(isValidPortName('8080'), ['must contain at least one letter (a-z)']);
  assert.equal(isValidPortName('a--b'), ['must not contain consecutive hyphens']);
  assert.equal(isValidPortName('-ab'), ['must not begin or end with a hyphen']);
  assert.equal(isValidPortName('HTTP'), ['must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)', 'must contain at least one letter (a-z)']);
});

names('labels and annotations maps', () => {
  assert.equal(validateLabels({ app: 'web', 'app.kubernetes.io/part-of': 'x' }, 'metadata.labels'), []);
  const bad = validateLabels({ 'bad key': 'v', ok: '-bad' }, 'metadata.labels');
  assert.equal(bad.length, 2);
  assert.ok(bad[0]!.message.startsWith('Invalid value: "bad key": name part must consist of'));
  assert.is(bad[0]!.field, 'metadata.labels');
  assert.ok(bad[1]!.message.startsWith('Invalid value: "-bad": a valid label must be'));
  // Annotation keys are checked case-insensitively, values are free text.
  assert.equal(validateAnnotations({ 'Example.COM/Note': 'anything at all: ¿?' }, 'metadata.annotations'), []);
  const big = validateAnnotations({ a: 'x'.repeat(256 * 1024) }, 'metadata.annotations');
  assert.equal(big, [{ reason: 'FieldValueTooLong', message: 'Too long: may not be more than 262144 bytes', field: 'metadata.annotations' }]);
  assert.equal(validateAnnotations({ a: 'x'.repeat(256 * 1024 - 1) }, 'metadata.annotations'), []);
});

names.run();

// ------------------------------------------------------------------------------------ metadata

const meta = suite('metadata');

meta('a bad ConfigMap name reads exactly like kubectl shows it', () => {
  const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Bad_Name', namespace: 'default' }, data: { k: 'v' } };
  const found = check('ConfigMap', cm);
  assert.equal(found, [{ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: "Bad_Name": ${SUBDOMAIN_MSG}` }]);
  assert.is(kubectlMessage(errors.invalid('ConfigMap', 'Bad_Name', found)),
    `The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": ${SUBDOMAIN_MSG}`);
});

meta('name or generateName is required; generateName may end in a dash', () => {
  const none = lines('ConfigMap', { metadata: { namespace: 'default' } });
  assert.equal(none, ['metadata.name: Required value: name or generateName is required']);
  assert.equal(lines('Pod', pod({ containers: [container()] }, 'web-abcde')), []);
  const gen: KubeObject = { metadata: { generateName: 'web-', name: 'web-x7k2p', namespace: 'default' }, spec: { containers: [container()] } };
  assert.equal(lines('Pod', gen), []);
  const badGen: KubeObject = { metadata: { generateName: 'Web-', name: 'Web-x7k2p', namespace: 'default' }, spec: { containers: [container()] } };
  hasPrefix(lines('Pod', badGen), 'metadata.generateName: Invalid value: "Web-": a lowercase RFC 1123 subdomain');
});

meta('name rule per kind: Namespace label, Service DNS-1035, Node and Pod subdomains', () => {
  has(lines('Namespace', { metadata: { name: 'team.a' } }), 'metadata.name: Invalid value: "team.a": must not contain dots');
  hasPrefix(lines('Service', { metadata: { name: '1web', namespace: 'default' }, spec: { ports: [{ port: 80 }] } }),
    'metadata.name: Invalid value: "1web": a DNS-1035 label must consist of');
  assert.equal(lines('Node', { metadata: { name: 'pi-4.lan' } }), []);
  assert.equal(lines('Pod', pod({ containers: [container()] }, 'web.v1')), []);
  assert.equal(lines('Deployment', { ...deployment(), metadata: { name: 'web.v1', namespace: 'default' } }), []);
});

meta('namespaced kinds need a namespace; cluster kinds refuse one', () => {
  has(lines('ConfigMap', { metadata: { name: 'c' } }), 'metadata.namespace: Required value');
  hasPrefix(lines('ConfigMap', { metadata: { name: 'c', namespace: 'Team' } }), 'metadata.namespace: Invalid value: "Team": a lowercase RFC 1123 label');
  has(lines('Node', { metadata: { name: 'n', namespace: 'default' } }), 'metadata.namespace: Forbidden: not allowed on this type');
});

meta('labels, owner references and finalizers', () => {
  const obj: KubeObject = {
    metadata: {
      name: 'c', namespace: 'default', labels: { 'bad/key/x': 'v' },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'a', uid: 'u1', controller: true },
        { apiVersion: '', kind: '', name: '', uid: '', controller: true },
      ],
      finalizers: ['example.com/cleanup', 'custom', 'orphan', 'foregroundDeletion'],
    },
  };
  const found = lines('ConfigMap', obj);
  hasPrefix(found, 'metadata.labels: Invalid value: "bad/key/x": a qualified name must consist of');
  has(found, 'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty');
  has(found, 'metadata.ownerReferences.kind: Invalid value: "": must not be empty');
  has(found, 'metadata.ownerReferences.uid: Invalid value: "": must not be empty');
  hasPrefix(found, 'metadata.ownerReferences: Invalid value: []v1.OwnerReference{');
  assert.ok(found.some((l) => l.endsWith('Only one reference can have Controller set to true. Found "true" in references for ReplicaSet/a and /')));
  has(found, 'metadata.finalizers[1]: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified');
  has(found, 'metadata.finalizers: Invalid value: []string{"example.com/cleanup", "custom", "orphan", "foregroundDeletion"}: finalizer orphan and foregroundDeletion cannot be both set');
});

meta.run();

// ------------------------------------------------------------------------------------ pods

const pods = suite('pod spec');

pods('a plain pod is valid after defaulting', () => {
  assert.equal(lines('Pod', pod({ containers: [container({ ports: [{ containerPort: 80, name: 'http' }] })] })), []);
});

pods('at least one container, each with a DNS-label name unique across init and app containers', () => {
  has(lines('Pod', pod({ containers: [] })), 'spec.containers: Required value');
  const found = lines('Pod', pod({
    containers: [container(), container({ name: 'App_1' }), { image: 'x' }],
    initContainers: [container({ name: 'app' })],
  }));
  has(found, `spec.containers[1].name: Invalid value: "App_1": ${LABEL_MSG}`);
  has(found, 'spec.containers[2].name: Required value');
  has(found, 'spec.initContainers[0].name: Duplicate value: "app"');
});

pods('image is required, in pods and in workload templates', () => {
  has(lines('Pod', pod({ containers: [{ name: 'a' }] })), 'spec.containers[0].image: Required value');
  has(lines('Deployment', deployment({ podSpec: { containers: [{ name: 'a' }] } })), 'spec.template.spec.containers[0].image: Required value');
  has(lines('Pod', pod({ containers: [container({ image: ' nginx' })] })),
    'spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace');
});

pods('container ports: range, names, protocol, duplicates', () => {
  const found = lines('Pod', pod({
    containers: [container({
      ports: [
        { containerPort: 70000 },
        { containerPort: 0 },
        { containerPort: 80, name: 'web_port' },
        { containerPort: 81, name: 'metrics' },
        { containerPort: 82, name: 'metrics', protocol: 'HTTP' },
        { containerPort: 83, hostPort: 99999 },
      ],
    })],
  }));
  has(found, 'spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive');
  has(found, 'spec.containers[0].ports[1].containerPort: Required value');
  has(found, 'spec.containers[0].ports[2].name: Invalid value: "web_port": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  has(found, 'spec.containers[0].ports[4].name: Duplicate value: "metrics"');
  has(found, 'spec.containers[0].ports[4].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"');
  has(found, 'spec.containers[0].ports[5].hostPort: Invalid value: 99999: must be between 1 and 65535, inclusive');
});

pods('restartPolicy values for bare pods', () => {
  assert.equal(lines('Pod', pod({ containers: [container()], restartPolicy: 'OnFailure' })), []);
  has(lines('Pod', pod({ containers: [container()], restartPolicy: 'Sometimes' })),
    'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"');
});

pods('env names use the relaxed 1.32 rule; valueFrom needs exactly one source', () => {
  const found = lines('Pod', pod({
    containers: [container({
      env: [
        { name: 'OK_1', value: 'x' },
        { name: 'with space:ok', value: 'x' },
        { name: 'A=B', value: 'x' },
        { name: '' },
        { name: 'FROM', valueFrom: {} },
        { name: 'BOTH', value: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'BAD_FIELD', valueFrom: { fieldRef: { fieldPath: 'spec.containers' } } },
        { name: 'CM', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'a/b' } } },
      ],
    })],
  }));
  has(found, "spec.containers[0].env[2].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='");
  has(found, 'spec.containers[0].env[3].name: Required value');
  has(found, 'spec.containers[0].env[4].valueFrom: Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`');
  has(found, 'spec.containers[0].env[5].valueFrom: Invalid value: "": may not be specified when `value` is not empty');
  hasPrefix(found, 'spec.containers[0].env[7].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.containers": supported values: "metadata.name"');
  hasPrefix(found, 'spec.containers[0].env[8].valueFrom.configMapKeyRef.key: Invalid value: "a/b": a valid config key');
  assert.not.ok(found.some((l) => l.includes('env[1]') || l.includes('env[0]') || l.includes('env[6]')));
});

pods('volumes: unique DNS-label names, one source; mounts must name a volume', () => {
  const found = lines('Pod', pod({
    volumes: [
      { name: 'data', emptyDir: {} },
      { name: 'data', emptyDir: {} },
      { name: 'Cfg', configMap: { name: 'c' } },
      { name: 'none' },
      { name: 'two', emptyDir: {}, hostPath: { path: '/x' } },
    ],
    containers: [container({
      volumeMounts: [
        { name: 'data', mountPath: '/data' },
        { name: 'missing', mountPath: '/m' },
        { name: 'data', mountPath: '/data' },
        { name: 'data' },
      ],
    })],
  }));
  has(found, 'spec.volumes[1].name: Duplicate value: "data"');
  hasPrefix(found, 'spec.volumes[2].name: Invalid value: "Cfg": a lowercase RFC 1123 label');
  has(found, 'spec.volumes[3]: Required value: must specify a volume type');
  has(found, 'spec.volumes[4].hostPath: Forbidden: may not specify more than 1 volume type');
  has(found, 'spec.containers[0].volumeMounts[1].name: Not found: "missing"');
  has(found, 'spec.containers[0].volumeMounts[2].mountPath: Invalid value: "/data": must be unique');
  has(found, 'spec.containers[0].volumeMounts[3].mountPath: Required value');
});

pods('resources: valid quantities, requests no more than limits', () => {
  const found = lines('Pod', pod({
    containers: [
      container({ name: 'a', resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '1', memory: '64Mi' } } }),
      container({ name: 'b', resources: { requests: { cpu: 'lots', memory: '-1Gi' } } }),
      container({ name: 'c', resources: { limits: { 'nvidia.com/gpu': '1' }, requests: { 'nvidia.com/gpu': '1' } } }),
      container({ name: 'd', resources: { limits: { gpus: '1' } } }),
      container({ name: 'e', resources: { requests: { 'example.com/dongle': '500m' } } }),
    ],
  }));
  has(found, 'spec.containers[0].resources.requests: Invalid value: "1": must be less than or equal to cpu limit of 500m');
  has(found, "spec.containers[1].resources.requests[cpu]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
  has(found, 'spec.containers[1].resources.requests[memory]: Invalid value: "-1Gi": must be greater than or equal to 0');
  has(found, 'spec.containers[3].resources.limits[gpus]: Invalid value: "gpus": must be a standard resource for containers');
  has(found, 'spec.containers[4].resources.requests[example.com/dongle]: Invalid value: "500m": must be an integer');
  has(found, 'spec.containers[4].resources.limits: Required value: Limit must be set for non overcommitable resources');
  assert.not.ok(found.some((l) => l.startsWith('spec.containers[2]')));
  assert.not.ok(found.some((l) => l.includes('containers[0].resources.requests: Invalid value: "64Mi"')));
});

pods('probes: exactly one handler, non-negative timings, liveness successThreshold 1', () => {
  const found = lines('Pod', pod({
    containers: [container({
      livenessProbe: { periodSeconds: -1 },
      readinessProbe: { httpGet: { port: 'http' }, tcpSocket: { port: 80 } },
      startupProbe: { exec: { command: ['true'] }, successThreshold: 2 },
    })],
  }));
  has(found, 'spec.containers[0].livenessProbe: Required value: must specify a handler type');
  has(found, 'spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0');
  has(found, 'spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type');
  has(found, 'spec.containers[0].startupProbe.successThreshold: Invalid value: 2: must be 1');
  has(lines('Pod', pod({ containers: [container({ livenessProbe: { httpGet: { port: 0 } } })] })),
    'spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive');
});

pods('tolerations, nodeSelector and terminationGracePeriodSeconds', () => {
  const found = lines('Pod', pod({
    containers: [container()],
    nodeSelector: { 'kubernetes.io/arch': 'arm64', 'bad key': 'x' },
    terminationGracePeriodSeconds: -5,
    tolerations: [
      { key: 'node-role', operator: 'Exists', effect: 'NoSchedule' },
      { operator: 'Equal', value: 'x' },
      { key: 'k', operator: 'Maybe' },
      { key: 'k', operator: 'Exists', value: 'v' },
      { key: 'k', effect: 'Sometimes' },
      { key: 'k', tolerationSeconds: 30, effect: 'NoSchedule' },
    ],
  }));
  hasPrefix(found, 'spec.nodeSelector: Invalid value: "bad key": name part must consist of');
  has(found, 'spec.terminationGracePeriodSeconds: Invalid value: -5: must be greater than or equal to 0');
  has(found, 'spec.tolerations[1].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"');
  has(found, 'spec.tolerations[2].operator: Unsupported value: "Maybe": supported values: "Equal", "Exists"');
  has(found, "spec.tolerations[3].operator: Invalid value: \"v\": value must be empty when `operator` is 'Exists'");
  has(found, 'spec.tolerations[4].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"');
  has(found, "spec.tolerations[5].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set");
  assert.not.ok(found.some((l) => l.startsWith('spec.tolerations[0]')));
});

pods('node affinity needs terms and sane operators', () => {
  const found = lines('Pod', pod({
    containers: [container()],
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] },
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 0, preference: { matchExpressions: [{ key: 'zone', operator: 'In' }] } }],
      },
      podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'web' } } }] },
    },
  }));
  has(found, 'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: must have at least one node selector term');
  has(found, 'spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100');
  has(found, "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].preference.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'");
  has(found, 'spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty');
});

pods('a status write checks the status, not the stored spec again; any other write checks both', () => {
  const info = resourceForKind('Pod')!;
  const pod = {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' },
    spec: { containers: [{ name: 'Bad_Name', image: 'x' }] }, status: { podIP: 'not-an-ip' },
  } as unknown as KubeObject;
  const fields = (causes: StatusCause[]): string[] => causes.map((c) => c.field ?? '').sort();
  assert.equal(fields(validateObject(info, pod, pod, { specFromStore: true })), ['status.podIP']);
  const all = fields(validateObject(info, pod, pod));
  assert.ok(all.includes('status.podIP') && all.some((f) => f.startsWith('spec.containers[0].name')), all.join(', '));
});

pods.run();

// ------------------------------------------------------------------------------------ workloads

const workloads = suite('workloads');

workloads('a Deployment whose selector does not match its template, as kubectl prints it', () => {
  const d = deployment({ labels: { app: 'other' } });
  const found = check('Deployment', d);
  assert.is(found.length, 1);
  assert.is(kubectlMessage(errors.invalid('Deployment', 'web', found, 'apps')),
    'The Deployment "web" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: `selector` does not match template `labels`');
});

workloads('Deployment selector required and non-empty; matchExpressions are honoured', () => {
  has(lines('Deployment', deployment({ selector: undefined })), 'spec.selector: Required value');
  has(lines('Deployment', deployment({ selector: {} })),
    'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment');
  assert.equal(lines('Deployment', deployment({ selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }] } })), []);
  has(lines('Deployment', deployment({ selector: { matchExpressions: [{ key: 'app', operator: 'Exists', values: ['x'] }] } })),
    "spec.selector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
});

workloads('Deployment replicas, strategy and history limits', () => {
  const found = lines('Deployment', deployment({
    spec: { replicas: -1, revisionHistoryLimit: -2, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '0%' } } },
  }));
  has(found, 'spec.replicas: Invalid value: -1: must be greater than or equal to 0');
  has(found, 'spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0');
  has(found, 'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0%: may not be 0 when `maxSurge` is 0');
  has(lines('Deployment', deployment({ spec: { strategy: { type: 'BlueGreen' } } })),
    'spec.strategy.type: Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate"');
  has(lines('Deployment', deployment({ spec: { strategy: { type: 'Recreate', rollingUpdate: { maxSurge: 1 } } } })),
    "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'");
  const pct = lines('Deployment', deployment({ spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 'lots', maxUnavailable: '150%' } } } }));
  has(pct, "spec.strategy.rollingUpdate.maxSurge: Invalid value: lots: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')");
  has(pct, 'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 150%: must not be greater than 100%');
  has(lines('Deployment', deployment({ spec: { progressDeadlineSeconds: 5, minReadySeconds: 10 } })),
    'spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds');
});

workloads('workload templates only allow restartPolicy Always', () => {
  has(lines('Deployment', deployment({ podSpec: { restartPolicy: 'Never' } })),
    'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"');
  has(lines('Deployment', deployment({ podSpec: { activeDeadlineSeconds: 10 } })),
    'spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported');
});

workloads('Deployment, ReplicaSet and DaemonSet selectors are immutable', () => {
  const old = deployment();
  const changed = deployment({ selector: { matchLabels: { app: 'web2' } }, labels: { app: 'web2' } });
  assert.equal(lines('Deployment', changed, old), [
    'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable',
  ]);
  assert.equal(lines('Deployment', deployment({ spec: { replicas: 5 } }), deployment()), []);
  const rs = (app: string): KubeObject => ({ metadata: { name: 'rs', namespace: 'default' }, spec: { selector: { matchLabels: { app } }, template: { metadata: { labels: { app } }, spec: { containers: [container()] } } } });
  has(lines('ReplicaSet', rs('b'), rs('a')), 'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"b"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable');
  assert.equal(lines('ReplicaSet', rs('a')), []);
  has(lines('ReplicaSet', { ...rs('a'), spec: { ...(rs('a').spec as object), replicas: -3 } }), 'spec.replicas: Invalid value: -3: must be greater than or equal to 0');
});

workloads('DaemonSet strategy and selector', () => {
  const ds = (spec: Record<string, unknown> = {}): KubeObject => ({
    metadata: { name: 'agent', namespace: 'kube-system' },
    spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [container()] } }, ...spec },
  });
  assert.equal(lines('DaemonSet', ds()), []);
  has(lines('DaemonSet', ds({ updateStrategy: { type: 'Sometimes' } })),
    'spec.updateStrategy.type: Unsupported value: "Sometimes": supported values: "RollingUpdate", "OnDelete"');
  has(lines('DaemonSet', ds({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 0 } } })),
    'spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0');
  has(lines('DaemonSet', ds({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } } })),
    'spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero');
  has(lines('DaemonSet', ds({ selector: { matchLabels: { app: 'x' } } })),
    'spec.template.metadata.labels: Invalid value: map[string]string{"app":"agent"}: `selector` does not match template `labels`');
  has(lines('DaemonSet', ds({ revisionHistoryLimit: -1 })), 'spec.revisionHistoryLimit: Invalid value: -1: must be greater than or equal to 0');
});

workloads('ReplicationController selector defaults to, and must match, template labels', () => {
  const rc = (selector?: Record<string, string>): KubeObject => ({
    metadata: { name: 'rc', namespace: 'default' },
    spec: { ...(selector ? { selector } : {}), template: { metadata: { labels: { app: 'rc', tier: 'x' } }, spec: { containers: [container()] } } },
  });
  assert.equal(lines('ReplicationController', rc()), []);
  assert.equal(lines('ReplicationController', rc({ app: 'rc' })), []);
  has(lines('ReplicationController', rc({ app: 'other' })),
    'spec.template.metadata.labels: Invalid value: map[string]string{"app":"rc", "tier":"x"}: `selector` does not match template `labels`');
});

function job(spec: Record<string, unknown> = {}, podSpec: Record<string, unknown> = { restartPolicy: 'Never' }): KubeObject {
  return {
    apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'pi', namespace: 'default' },
    spec: { template: { metadata: { labels: { job: 'pi' } }, spec: { containers: [container()], ...podSpec } }, ...spec },
  };
}

workloads('Jobs need OnFailure or Never, and non-negative counts', () => {
  assert.equal(lines('Job', job()), []);
  has(lines('Job', job({}, {})), 'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"');
  has(lines('Job', job({}, { restartPolicy: 'Always' })), 'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"');
  const found = lines('Job', job({ completions: -1, parallelism: -2, backoffLimit: -3, activeDeadlineSeconds: 0 }));
  has(found, 'spec.completions: Invalid value: -1: must be greater than or equal to 0');
  has(found, 'spec.parallelism: Invalid value: -2: must be greater than or equal to 0');
  has(found, 'spec.backoffLimit: Invalid value: -3: must be greater than or equal to 0');
  has(found, 'spec.activeDeadlineSeconds: Invalid value: 0: must be greater than 0');
  has(lines('Job', job({ completionMode: 'Sometimes' })), 'spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"');
});

workloads('Job selectors: manual ones must exist and match; selector and completions are immutable', () => {
  has(lines('Job', job({ manualSelector: true })), 'spec.selector: Required value');
  has(lines('Job', job({ manualSelector: true, selector: { matchLabels: { job: 'other' } } })),
    'spec.template.metadata.labels: Invalid value: map[string]string{"job":"pi"}: `selector` does not match template `labels`');
  assert.equal(lines('Job', job({ manualSelector: true, selector: { matchLabels: { job: 'pi' } } })), []);
  const old = job({ selector: { matchLabels: { job: 'pi' } } });
  const found = lines('Job', job({ selector: { matchLabels: { job: 'pi' } }, completions: 3 }), old);
  has(found, 'spec.completions: Invalid value: 3: field is immutable');
  const templateChanged = lines('Job', job({ selector: { matchLabels: { job: 'pi' } } }, { restartPolicy: 'OnFailure' }), old);
  hasPrefix(templateChanged, 'spec.template: Invalid value: ');
  assert.ok(templateChanged[0]!.endsWith('field is immutable'));
});

function cronJob(spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'tick', namespace: 'default' },
    spec: { jobTemplate: { spec: { template: { spec: { containers: [container()], restartPolicy: 'OnFailure' } } } }, ...spec },
  };
}

workloads('CronJob schedule, time zone, policies and limits', () => {
  assert.equal(lines('CronJob', cronJob({ schedule: '*/5 * * * *' })), []);
  assert.equal(lines('CronJob', cronJob({ schedule: '@hourly', timeZone: 'Europe/Berlin' })), []);
  has(lines('CronJob', cronJob({})), 'spec.schedule: Required value');
  has(lines('CronJob', cronJob({ schedule: '61 * * * *' })), 'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61');
  has(lines('CronJob', cronJob({ schedule: '0 0 * * * *' })), 'spec.schedule: Invalid value: "0 0 * * * *": expected exactly 5 fields, found 6: [0 0 * * * *]');
  has(lines('CronJob', cronJob({ schedule: 'TZ=UTC 0 * * * *' })),
    'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead');
  has(lines('CronJob', cronJob({ schedule: '@hourly', timeZone: 'Mars/Olympus' })), 'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus');
  const found = lines('CronJob', cronJob({ schedule: '@daily', concurrencyPolicy: 'Sometimes', successfulJobsHistoryLimit: -1, failedJobsHistoryLimit: -1 }));
  has(found, 'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"');
  has(found, 'spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0');
  has(found, 'spec.failedJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0');
  const noRestart = cronJob({ schedule: '@daily' });
  delete ((((noRestart['spec'] as Record<string, unknown>)['jobTemplate'] as Record<string, unknown>)['spec'] as Record<string, unknown>)['template'] as { spec: Record<string, unknown> }).spec['restartPolicy'];
  has(lines('CronJob', noRestart), 'spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"');
  hasPrefix(lines('CronJob', cronJob({ schedule: '@daily', jobTemplate: { spec: { selector: { matchLabels: { a: 'b' } }, template: { spec: { containers: [container()], restartPolicy: 'Never' } } } } })),
    'spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{');
});

workloads.run();

// ------------------------------------------------------------------------------------ cron syntax

const cron = suite('cron schedules');

cron('five fields with ranges, steps, lists and names are accepted', () => {
  for (const s of ['* * * * *', '0 */2 * * *', '15,45 9-17 * * MON-FRI', '0 0 1 jan,jul *', '0 12 ? * sun', '5/15 * * * *', '0 0 L * *'.replace('L', '1')]) {
    assert.is(cronScheduleError(s), undefined, s);
  }
});

cron('descriptors, including @every, are accepted; unknown ones are not', () => {
  for (const s of ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly', '@every 1h30m', '@every 90s']) {
    assert.is(cronScheduleError(s), undefined, s);
  }
  assert.is(cronScheduleError('@fortnightly'), 'unrecognized descriptor: @fortnightly');
  assert.ok(cronScheduleError('@every soon')!.startsWith('failed to parse duration @every soon: time: invalid duration'));
});

cron('robfig-style errors for bad fields', () => {
  assert.is(cronScheduleError('* * * *'), 'expected exactly 5 fields, found 4: [* * * *]');
  assert.is(cronScheduleError('0 24 * * *'), 'end of range (24) above maximum (23): 24');
  assert.is(cronScheduleError('0 0 0 * *'), 'beginning of range (0) below minimum (1): 0');
  assert.is(cronScheduleError('0 0 * * 7'), 'end of range (7) above maximum (6): 7');
  assert.is(cronScheduleError('10-5 * * * *'), 'beginning of range (10) beyond end of range (5): 10-5');
  assert.is(cronScheduleError('*/0 * * * *'), 'step of range should be a positive number: */0');
  assert.is(cronScheduleError('x * * * *'), 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax');
  assert.is(cronScheduleError(''), 'empty spec string');
});

cron('node-cron expressions for the controller', () => {
  assert.is(toNodeCronExpression('@hourly'), '0 * * * *');
  assert.is(toNodeCronExpression('@weekly'), '0 0 * * 0');
  assert.is(toNodeCronExpression('  */5   * * * * '), '*/5 * * * *');
  assert.is(toNodeCronExpression('@every 5m'), undefined);
  assert.is(toNodeCronExpression('99 * * * *'), undefined);
  assert.is(toNodeCronExpression('5/15 ? * * *'), '5-59/15 * * * *');
});

cron('time zones are IANA names, not Local', () => {
  assert.is(timeZoneError('America/New_York'), undefined);
  assert.is(timeZoneError('UTC'), undefined);
  assert.is(timeZoneError('Local'), 'timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones');
  assert.is(timeZoneError('../etc/passwd'), 'unknown time zone ../etc/passwd');
  assert.is(timeZoneError(''), 'timeZone must be nil or non-empty string');
});

cron.run();

// ------------------------------------------------------------------------------------ services

const services = suite('services');

function svc(spec: Record<string, unknown>, name = 'web'): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec };
}

services('a ClusterIP service is valid; ports are required unless headless or ExternalName', () => {
  assert.equal(lines('Service', svc({ selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] })), []);
  has(lines('Service', svc({ selector: { app: 'web' } })), 'spec.ports: Required value');
  assert.equal(lines('Service', svc({ clusterIP: 'None', selector: { app: 'db' } })), []);
  assert.equal(lines('Service', svc({ type: 'ExternalName', externalName: 'db.example.com.' })), []);
  has(lines('Service', svc({ type: 'ExternalName' })), 'spec.externalName: Required value');
});

services('type, port numbers, names and protocol', () => {
  has(lines('Service', svc({ type: 'Internal', ports: [{ port: 80 }] })),
    'spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"');
  const found = lines('Service', svc({ ports: [{ port: 0 }, { port: 70000, name: 'b' }, { name: 'b', port: 81, protocol: 'ICMP' }] }));
  has(found, 'spec.ports[0].name: Required value');
  has(found, 'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive');
  has(found, 'spec.ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive');
  has(found, 'spec.ports[2].name: Duplicate value: "b"');
  has(found, 'spec.ports[2].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"');
  has(lines('Service', svc({ ports: [{ port: 80, targetPort: 'Web_Port' }] })),
    'spec.ports[0].targetPort: Invalid value: "Web_Port": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
});

services('nodePorts: only for NodePort/LoadBalancer, within 30000-32767', () => {
  assert.equal(lines('Service', svc({ type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] })), []);
  has(lines('Service', svc({ type: 'NodePort', ports: [{ port: 80, nodePort: 8080 }] })),
    'spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767');
  has(lines('Service', svc({ ports: [{ port: 80, nodePort: 30080 }] })),
    "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'");
});

services('clusterIP: None, IPv4 or empty; immutable once set', () => {
  assert.equal(lines('Service', svc({ clusterIP: '10.43.0.10', ports: [{ port: 53, protocol: 'UDP' }] })), []);
  has(lines('Service', svc({ clusterIP: '10.43.0.300', ports: [{ port: 80 }] })),
    'spec.clusterIPs[0]: Invalid value: "10.43.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)');
  has(lines('Service', svc({ clusterIP: 'fd00::1', ports: [{ port: 80 }] })),
    'spec.clusterIPs[0]: Invalid value: "fd00::1": expected an IPv4 value as indicated by `ipFamilies[0]`');
  has(lines('Service', svc({ type: 'NodePort', clusterIP: 'None', ports: [{ port: 80 }] })),
    "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services");
  const old = svc({ clusterIP: '10.43.0.10', ports: [{ port: 80 }] });
  assert.equal(lines('Service', svc({ clusterIP: 'None', ports: [{ port: 80 }] }), old),
    ['spec.clusterIPs[0]: Invalid value: []string{"None"}: may not change once set']);
  assert.equal(lines('Service', svc({ clusterIP: '10.43.0.10', ports: [{ port: 81 }] }), old), []);
});

services.run();

// ------------------------------------------------------------------------------------ config

const config = suite('configmaps and secrets');

function cm(fields: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'default' }, ...fields };
}

function secret(fields: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'default' }, ...fields };
}

config('ConfigMap keys, duplicates between data and binaryData, 1 MiB total', () => {
  assert.equal(lines('ConfigMap', cm({ data: { 'app.properties': 'a=1', '.env': 'x' }, binaryData: { 'logo.png': 'iVBORw0KGgo=' } })), []);
  const found = lines('ConfigMap', cm({ data: { 'a/b': 'x', dup: 'x' }, binaryData: { dup: 'eA==' } }));
  hasPrefix(found, 'data[a/b]: Invalid value: "a/b": a valid config key must consist of alphanumeric characters');
  has(found, 'data[dup]: Invalid value: "dup": duplicate of key present in binaryData');
  has(found, 'binaryData[dup]: Invalid value: "dup": duplicate of key present in data');
  assert.equal(check('ConfigMap', cm({ data: { big: 'x'.repeat(1024 * 1024 + 1) } })),
    [{ reason: 'FieldValueTooLong', message: 'Too long: may not be more than 1048576 bytes' }]);
  assert.equal(lines('ConfigMap', cm({ data: { big: 'x'.repeat(1024 * 1024) } })), []);
});

config('immutable ConfigMaps and Secrets keep their data', () => {
  const old = cm({ immutable: true, data: { a: '1' } });
  assert.equal(lines('ConfigMap', cm({ immutable: true, data: { a: '2' } }), old), ['data: Forbidden: field is immutable when `immutable` is set']);
  assert.equal(lines('ConfigMap', cm({ data: { a: '1' } }), old), ['immutable: Forbidden: field is immutable when `immutable` is set']);
  assert.equal(lines('ConfigMap', cm({ immutable: true, data: { a: '1' }, metadata: { name: 'cfg', namespace: 'default', labels: { x: 'y' } } }), old), []);
  assert.equal(lines('ConfigMap', cm({ data: { a: '2' } }), cm({ data: { a: '1' } })), []);
  const oldSecret = secret({ immutable: true, data: { k: 'dg==' } });
  has(lines('Secret', secret({ immutable: true, data: { k: 'dw==' } }), oldSecret), 'data: Forbidden: field is immutable when `immutable` is set');
});

config('Secret data must be base64; typed secrets need their keys; type is immutable', () => {
  assert.equal(lines('Secret', secret({ data: { password: 'c2VjcmV0' } })), []);
  has(lines('Secret', secret({ data: { password: 'not base64!' } })), 'data[password]: Invalid value: "password": illegal base64 data at input byte 3');
  const tls = lines('Secret', secret({ type: 'kubernetes.io/tls', data: { 'tls.crt': 'eA==' } }));
  assert.equal(tls, ['data[tls.key]: Required value']);
  has(lines('Secret', secret({ type: 'kubernetes.io/basic-auth', data: {} })), 'data[username]: Required value');
  const docker = lines('Secret', secret({ type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': Buffer.from('{oops').toString('base64') } }));
  assert.is(docker.length, 1);
  assert.ok(docker[0]!.startsWith('data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": '), docker[0]);
  has(lines('Secret', secret({ type: 'kubernetes.io/dockerconfigjson', data: {} })), 'data[.dockerconfigjson]: Required value');
  has(lines('Secret', secret({ type: 'kubernetes.io/tls', data: { 'tls.crt': 'eA==', 'tls.key': 'eA==' } }), secret({ data: {} })),
    'type: Invalid value: "kubernetes.io/tls": field is immutable');
  assert.equal(lines('Secret', secret({ data: { big: Buffer.alloc(1024 * 1024 + 1).toString('base64') } })), ['data: Too long: may not be more than 1048576 bytes']);
});

config.run();

// ------------------------------------------------------------------------------------ other kinds

const others = suite('namespaces, nodes, events, leases');

others('Namespace names are DNS labels; spec finalizers are checked', () => {
  assert.equal(lines('Namespace', { metadata: { name: 'team-a' } }), []);
  hasPrefix(lines('Namespace', { metadata: { name: 'Team' } }), 'metadata.name: Invalid value: "Team": a lowercase RFC 1123 label');
  has(lines('Namespace', { metadata: { name: 'x' }, spec: { finalizers: ['custom'] } }),
    'spec.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified');
});

others('Node taints need a key and a known effect', () => {
  const found = lines('Node', {
    metadata: { name: 'pi-1' },
    spec: { taints: [{ key: 'dedicated', value: 'edge', effect: 'NoSchedule' }, { key: '', effect: 'NoSchedule' }, { key: 'a', effect: 'Never' }, { key: 'b' }, { key: 'dedicated', effect: 'NoSchedule' }], podCIDR: '10.42.0.0/24' },
  });
  has(found, 'spec.taints[1].key: Required value');
  has(found, 'spec.taints[2].effect: Unsupported value: "Never": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"');
  has(found, 'spec.taints[3].effect: Required value');
  hasPrefix(found, 'spec.taints[4]: Duplicate value: core.Taint{Key:"dedicated"');
  assert.not.ok(found.some((l) => l.includes('taints[0]') || l.includes('podCIDR')));
  has(lines('Node', { metadata: { name: 'n' }, spec: { podCIDR: '10.42.0.0' } }), 'spec.podCIDR: Invalid value: "10.42.0.0": must be a valid CIDR');
});

others('Events need an involved object in their own namespace', () => {
  const ev = (involved: Record<string, unknown> | undefined, ns = 'default', extra: Record<string, unknown> = {}): KubeObject => ({
    metadata: { name: 'web.17a', namespace: ns }, ...(involved ? { involvedObject: involved } : {}), reason: 'Started', ...extra,
  });
  assert.equal(lines('Event', ev({ kind: 'Pod', name: 'web', namespace: 'default' })), []);
  assert.equal(lines('Event', ev({ kind: 'Node', name: 'pi-1' })), []);
  has(lines('Event', ev(undefined)), 'involvedObject: Required value');
  has(lines('Event', ev({ kind: 'Pod', name: 'web', namespace: 'other' })), 'involvedObject.namespace: Invalid value: "other": does not match event.namespace');
  const modern = lines('Event', ev({ kind: 'Pod', name: 'web', namespace: 'default' }, 'default', { eventTime: '2024-01-01T00:00:00.000000Z' }));
  has(modern, 'reportingComponent: Required value');
  has(modern, 'reportingInstance: Required value');
  has(modern, 'action: Required value');
});

others('Leases, ServiceAccounts and PodDisruptionBudgets', () => {
  assert.equal(lines('Lease', { metadata: { name: 'corral-scheduler', namespace: 'kube-system' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } }), []);
  has(lines('Lease', { metadata: { name: 'l', namespace: 'kube-system' }, spec: { leaseDurationSeconds: 0 } }), 'spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0');
  assert.equal(lines('ServiceAccount', { metadata: { name: 'default', namespace: 'default' } }), []);
  hasPrefix(lines('ServiceAccount', { metadata: { name: 'Default', namespace: 'default' } }), 'metadata.name: Invalid value: "Default"');
  has(lines('PodDisruptionBudget', { metadata: { name: 'pdb', namespace: 'default' }, spec: { minAvailable: 1, maxUnavailable: '50%' } }),
    'spec.minAvailable: Invalid value: 1: minAvailable and maxUnavailable cannot be both set');
});

others.run();
