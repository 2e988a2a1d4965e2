/**
 * Pod spec validation (core ValidatePodSpec and its helpers), shared by Pods and by the pod templates
 * of Deployments, ReplicaSets, ReplicationControllers, DaemonSets, Jobs and CronJobs.
 *
 * Input is whatever JSON the client sent, so every access is defensive: a wrong shape becomes a field
 * error, never an exception.
 *
 * Why this file is long: upstream's pod spec validation (containers, volumes, probes, security
 * context, affinity), which the workload kinds reuse for their templates.
 */
import type { StatusCause } from '../status.js';
import { canonicalQuantity, compareQuantities, isValidQuantity, quantityToMilliBigInt } from '../quantity.js';
import {
  asArray, asString, child, duplicate, eachInvalid, forbidden, goStringSlice, index, invalid, isRecord, key, nonNegative,
  notFound, notSupported, required,
} from './field.js';
import {
  inclusiveRangeError, isConfigMapKey, isDNS1123Label, isDNS1123Subdomain, isQualifiedName, isRelaxedEnvVarName,
  isIPv4, isIPv6, isValidLabelValue, isValidPortName, isValidPortNum, validateAnnotations, validateLabels,
} from './names.js';
import { validateLabelSelector } from './selector.js';

type Obj = Record<string, unknown>;

export const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'] as const;
const PORT_PROTOCOLS = ['SCTP', 'TCP', 'UDP'] as const;
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;
const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'] as const;
const TERMINATION_MESSAGE_POLICIES = ['File', 'FallbackToLogsOnError'] as const;
const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;
const TOLERATION_OPERATORS = ['Equal', 'Exists'] as const;
const HTTP_SCHEMES = ['HTTP', 'HTTPS'] as const;
const NODE_SELECTOR_OPERATORS = ['DoesNotExist', 'Exists', 'Gt', 'In', 'Lt', 'NotIn'] as const;
const QUANTITY_SYNTAX = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const MAX_INT32 = 2147483647;

/** Downward API fields an env var may read (validEnvDownwardAPIFieldPathExpressions). */
const ENV_FIELD_PATHS = [
  'metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'spec.serviceAccountName',
  'status.hostIP', 'status.hostIPs', 'status.podIP', 'status.podIPs',
].sort();

/** Volume fields that are not a volume source. */
const VOLUME_NON_SOURCE_FIELDS = new Set(['name']);

// ------------------------------------------------------------------------------------ ports

/** ValidatePortNumOrName: an int port 1–65535 or an IANA service name. */
export function validatePortNumOrName(value: unknown, path: string): StatusCause[] {
  if (typeof value === 'number') return eachInvalid(path, value, isValidPortNum(value));
  if (typeof value === 'string') {
    // A numeric string in JSON is still a string for IntOrString.
    return eachInvalid(path, value, isValidPortName(value));
  }
  if (value === undefined || value === null) return [required(path)];
  return [invalid(path, String(value), 'must be an integer or a port name')];
}

function validateContainerPorts(ports: unknown, path: string, hostNetwork: boolean): StatusCause[] {
  const out: StatusCause[] = [];
  const names = new Set<string>();
  asArray(ports).forEach((p, i) => {
    const at = index(path, i);
    if (!isRecord(p)) {
      out.push(invalid(at, String(p), 'must be a container port object'));
      return;
    }
    const name = asString(p['name']);
    if (name !== '') {
      out.push(...eachInvalid(child(at, 'name'), name, isValidPortName(name)));
      if (names.has(name)) out.push(duplicate(child(at, 'name'), name));
      names.add(name);
    }
    const containerPort = p['containerPort'];
    if (containerPort === undefined || containerPort === null || containerPort === 0) {
      out.push(required(child(at, 'containerPort')));
    } else {
      out.push(...eachInvalid(child(at, 'containerPort'), containerPort, isValidPortNum(Number(containerPort))));
    }
    const hostPort = p['hostPort'];
    if (hostPort !== undefined && hostPort !== null && hostPort !== 0) {
      out.push(...eachInvalid(child(at, 'hostPort'), hostPort, isValidPortNum(Number(hostPort))));
      if (hostNetwork && hostPort !== containerPort) {
        out.push(invalid(child(at, 'hostPort'), hostPort, 'must match `containerPort` when `hostNetwork` is true'));
      }
    }
    out.push(...validateProtocol(p['protocol'], child(at, 'protocol')));
  });
  return out;
}

/** Port protocols: TCP, UDP or SCTP (empty is filled in by defaulting). */
export function validateProtocol(value: unknown, path: string): StatusCause[] {
  if (value === undefined || value === null) return [];
  if (value === '') return [required(path)];
  return (PORT_PROTOCOLS as readonly unknown[]).includes(value) ? [] : [notSupported(path, value, PORT_PROTOCOLS)];
}

// ------------------------------------------------------------------------------------ env

function validateKeySelector(sel: Obj, path: string, nameCheck: (n: string) => string[]): StatusCause[] {
  const out: StatusCause[] = [];
  const name = asString(sel['name']);
  if (name === '') out.push(required(child(path, 'name')));
  else out.push(...eachInvalid(child(path, 'name'), name, nameCheck(name)));
  const k = asString(sel['key']);
  if (k === '') out.push(required(child(path, 'key')));
  else out.push(...eachInvalid(child(path, 'key'), k, isConfigMapKey(k)));
  return out;
}

function validateFieldRef(ref: Obj, path: string): StatusCause[] {
  const out: StatusCause[] = [];
  if (asString(ref['apiVersion']) === '') out.push(required(child(path, 'apiVersion')));
  const fieldPath = asString(ref['fieldPath']);
  if (fieldPath === '') {
    out.push(required(child(path, 'fieldPath')));
    return out;
  }
  const subscript = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(fieldPath);
  if (subscript) {
    const k = subscript[2]!;
    const messages = subscript[1] === 'labels' ? isQualifiedName(k) : isQualifiedName(k.toLowerCase());
    out.push(...eachInvalid(child(path, 'fieldPath'), k, messages));
  } else if (!ENV_FIELD_PATHS.includes(fieldPath)) {
    out.push(notSupported(child(path, 'fieldPath'), fieldPath, ENV_FIELD_PATHS));
  }
  return out;
}

function validateEnv(env: unknown, path: string): StatusCause[] {
  const out: StatusCause[] = [];
  asArray(env).forEach((ev, i) => {
    const at = index(path, i);
    if (!isRecord(ev)) {
      out.push(invalid(at, String(ev), 'must be an environment variable object'));
      return;
    }
    const name = asString(ev['name']);
    if (name === '') out.push(required(child(at, 'name')));
    else out.push(...eachInvalid(child(at, 'name'), name, isRelaxedEnvVarName(name)));
    const from = ev['valueFrom'];
    if (from === undefined || from === null) return;
    const fromPath = child(at, 'valueFrom');
    if (!isRecord(from)) {
      out.push(invalid(fromPath, '', 'must be an object'));
      return;
    }
    let sources = 0;
    if (isRecord(from['fieldRef'])) {
      sources++;
      out.push(...validateFieldRef(from['fieldRef'], child(fromPath, 'fieldRef')));
    }
    if (isRecord(from['resourceFieldRef'])) {
      sources++;
      if (asString(from['resourceFieldRef']['resource']) === '') out.push(required(child(fromPath, 'resourceFieldRef', 'resource')));
    }
    if (isRecord(from['configMapKeyRef'])) {
      sources++;
      out.push(...validateKeySelector(from['configMapKeyRef'], child(fromPath, 'configMapKeyRef'), isDNS1123Subdomain));
    }
    if (isRecord(from['secretKeyRef'])) {
      sources++;
      out.push(...validateKeySelector(from['secretKeyRef'], child(fromPath, 'secretKeyRef'), isDNS1123Subdomain));
    }
    if (sources === 0) {
      out.push(invalid(fromPath, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
    } else if (asString(ev['value']) !== '') {
      out.push(invalid(fromPath, '', 'may not be specified when `value` is not empty'));
    } else if (sources > 1) {
      out.push(invalid(fromPath, '', 'may not have more than one field specified at a time'));
    }
  });
  return out;
}

function validateEnvFrom(envFrom: unknown, path: string): StatusCause[] {
  const out: StatusCause[] = [];
  asArray(envFrom).forEach((ef, i) => {
    const at = index(path, i);
    if (!isRecord(ef)) return;
    const prefix = asString(ef['prefix']);
    if (prefix !== '') out.push(...eachInvalid(child(at, 'prefix'), prefix, isRelaxedEnvVarName(prefix)));
    let sources = 0;
    for (const refName of ['configMapRef', 'secretRef'] as const) {
      const ref = ef[refName];
      if (!isRecord(ref)) continue;
      sources++;
      const name = asString(ref['name']);
      if (name === '') out.push(required(child(at, refName, 'name')));
      else out.push(...eachInvalid(child(at, refName, 'name'), name, isDNS1123Subdomain(name)));
    }
    if (sources === 0) out.push(invalid(at, '', 'must specify one of: `configMapRef` or `secretRef`'));
    else if (sources > 1) out.push(invalid(at, '', 'may not have more than one field specified at a time'));
  });
  return out;
}

// ------------------------------------------------------------------------------------ resources

/** Extended resources (vendor.com/gpu) must be whole numbers and cannot be overcommitted. */
function isExtendedResource(name: string): boolean {
  return name.includes('/') && !name.includes('kubernetes.io/');
}

function isStandardContainerResource(name: string): boolean {
  return name === 'cpu' || name === 'memory' || name === 'ephemeral-storage' || name.startsWith('hugepages-');
}

export function validateResourceQuantity(name: string, value: unknown, path: string): StatusCause[] {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return [invalid(path, String(value), QUANTITY_SYNTAX)];
  } else if (typeof value !== 'string' || !isValidQuantity(value)) {
    return [invalid(path, typeof value === 'string' ? value : String(value), QUANTITY_SYNTAX)];
  }
  if (compareQuantities(value, 0) < 0) return [invalid(path, canonicalQuantity(value), 'must be greater than or equal to 0')];
  if (isExtendedResource(name) && quantityToMilliBigInt(value) % 1000n !== 0n) {
    return [invalid(path, canonicalQuantity(value), 'must be an integer')];
  }
  return [];
}

export function validateResourceName(name: string, path: string): StatusCause[] {
  const out = eachInvalid(path, name, isQualifiedName(name));
  if (!name.includes('/')) {
    if (!isStandardContainerResource(name)) out.push(invalid(path, name, 'must be a standard resource for containers'));
  }
  return out;
}

function quantityIsUsable(value: unknown): value is string | number {
  return (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && isValidQuantity(value));
}

function validateResources(resources: unknown, path: string): StatusCause[] {
  if (!isRecord(resources)) return [];
  const out: StatusCause[] = [];
  const limits = isRecord(resources['limits']) ? resources['limits'] : {};
  const requests = isRecord(resources['requests']) ? resources['requests'] : {};
  const limPath = child(path, 'limits');
  const reqPath = child(path, 'requests');
  for (const [name, value] of Object.entries(limits)) {
    out.push(...validateResourceName(name, key(limPath, name)));
    out.push(...validateResourceQuantity(name, value, key(limPath, name)));
  }
  for (const [name, value] of Object.entries(requests)) {
    out.push(...validateResourceName(name, key(reqPath, name)));
    out.push(...validateResourceQuantity(name, value, key(reqPath, name)));
    const limit = limits[name];
    if (limit !== undefined) {
      if (!quantityIsUsable(value) || !quantityIsUsable(limit)) continue;
      const cmp = compareQuantities(value, limit);
      if (cmp !== 0 && isExtendedResource(name)) {
        out.push(invalid(reqPath, canonicalQuantity(value), `must be equal to ${name} limit of ${canonicalQuantity(limit)}`));
      } else if (cmp > 0) {
        out.push(invalid(reqPath, canonicalQuantity(value), `must be less than or equal to ${name} limit of ${canonicalQuantity(limit)}`));
      }
    } else if (isExtendedResource(name)) {
      out.push(required(limPath, 'Limit must be set for non overcommitable resources'));
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------ probes and handlers

/** Exactly one handler: exec, httpGet, tcpSocket, grpc (probes) or sleep (lifecycle hooks). */
function validateHandler(handler: Obj, path: string, kinds: readonly string[]): StatusCause[] {
  const out: StatusCause[] = [];
  let count = 0;
  for (const kind of kinds) {
    const h = handler[kind];
    if (h === undefined || h === null) continue;
    const at = child(path, kind);
    if (count > 0) {
      out.push(forbidden(at, 'may not specify more than 1 handler type'));
      continue;
    }
    count++;
    if (!isRecord(h)) {
      out.push(invalid(at, String(h), 'must be an object'));
      continue;
    }
    switch (kind) {
      case 'exec':
        if (asArray(h['command']).length === 0) out.push(required(child(at, 'command')));
        break;
      case 'httpGet': {
        if (asString(h['path']) === '') out.push(required(child(at, 'path')));
        out.push(...validatePortNumOrName(h['port'], child(at, 'port')));
        const scheme = h['scheme'];
        if (scheme !== undefined && !(HTTP_SCHEMES as readonly unknown[]).includes(scheme)) {
          out.push(notSupported(child(at, 'scheme'), scheme, HTTP_SCHEMES));
        }
        break;
      }
      case 'tcpSocket':
        out.push(...validatePortNumOrName(h['port'], child(at, 'port')));
        break;
      case 'grpc':
        out.push(...eachInvalid(child(at, 'port'), h['port'], isValidPortNum(Number(h['port']))));
        break;
      case 'sleep':
        out.push(...nonNegative(child(at, 'seconds'), h['seconds']));
        break;
    }
  }
  if (count === 0) out.push(required(path, 'must specify a handler type'));
  return out;
}

function validateProbe(probe: unknown, path: string, successMustBeOne: boolean): StatusCause[] {
  if (probe === undefined || probe === null) return [];
  if (!isRecord(probe)) return [invalid(path, String(probe), 'must be a probe object')];
  const out = validateHandler(probe, path, ['exec', 'httpGet', 'tcpSocket', 'grpc']);
  for (const f of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold']) {
    out.push(...nonNegative(child(path, f), probe[f]));
  }
  const grace = probe['terminationGracePeriodSeconds'];
  if (typeof grace === 'number' && grace <= 0) {
    out.push(invalid(child(path, 'terminationGracePeriodSeconds'), grace, 'must be greater than 0'));
  }
  const success = probe['successThreshold'];
  if (successMustBeOne && success !== undefined && success !== 1) {
    out.push(invalid(child(path, 'successThreshold'), success, 'must be 1'));
  }
  return out;
}

function validateLifecycle(lifecycle: unknown, path: string): StatusCause[] {
  if (!isRecord(lifecycle)) return [];
  const out: StatusCause[] = [];
  for (const hook of ['postStart', 'preStop']) {
    const h = lifecycle[hook];
    if (isRecord(h)) out.push(...validateHandler(h, child(path, hook), ['exec', 'httpGet', 'tcpSocket', 'sleep']));
  }
  return out;
}

// ------------------------------------------------------------------------------------ containers

function validateVolumeMounts(mounts: unknown, path: string, volumeNames: ReadonlySet<string>): StatusCause[] {
  const out: StatusCause[] = [];
  const mountPoints = new Set<string>();
  asArray(mounts).forEach((m, i) => {
    const at = index(path, i);
    if (!isRecord(m)) {
      out.push(invalid(at, String(m), 'must be a volume mount object'));
      return;
    }
    const name = asString(m['name']);
    if (name === '') out.push(required(child(at, 'name')));
    if (!volumeNames.has(name)) out.push(notFound(child(at, 'name'), name));
    const mountPath = asString(m['mountPath']);
    if (mountPath === '') out.push(required(child(at, 'mountPath')));
    if (mountPoints.has(mountPath)) out.push(invalid(child(at, 'mountPath'), mountPath, 'must be unique'));
    mountPoints.add(mountPath);
    const subPath = asString(m['subPath']);
    if (subPath !== '') {
      if (subPath.startsWith('/')) out.push(invalid(child(at, 'subPath'), subPath, 'must be a relative path'));
      if (subPath.split('/').includes('..')) out.push(invalid(child(at, 'subPath'), subPath, "must not contain '..'"));
    }
  });
  return out;
}

interface ContainerContext {
  volumeNames: ReadonlySet<string>;
  hostNetwork: boolean;
  init: boolean;
}

function validateContainer(c: Obj, at: string, ctx: ContainerContext): StatusCause[] {
  const out: StatusCause[] = [];
  const image = c['image'];
  if (image === undefined || image === null || image === '') {
    out.push(required(child(at, 'image')));
  } else if (typeof image !== 'string' || image.trim() !== image) {
    out.push(invalid(child(at, 'image'), String(image), 'must not have leading or trailing whitespace'));
  }
  const pull = c['imagePullPolicy'];
  if (pull === '') out.push(required(child(at, 'imagePullPolicy')));
  else if (pull !== undefined && !(PULL_POLICIES as readonly unknown[]).includes(pull)) {
    out.push(notSupported(child(at, 'imagePullPolicy'), pull, PULL_POLICIES));
  }
  const tmp = c['terminationMessagePolicy'];
  if (tmp === '') out.push(required(child(at, 'terminationMessagePolicy')));
  else if (tmp !== undefined && !(TERMINATION_MESSAGE_POLICIES as readonly unknown[]).includes(tmp)) {
    out.push(notSupported(child(at, 'terminationMessagePolicy'), tmp, TERMINATION_MESSAGE_POLICIES));
  }
  out.push(...validateContainerPorts(c['ports'], child(at, 'ports'), ctx.hostNetwork));
  out.push(...validateEnv(c['env'], child(at, 'env')));
  out.push(...validateEnvFrom(c['envFrom'], child(at, 'envFrom')));
  out.push(...validateVolumeMounts(c['volumeMounts'], child(at, 'volumeMounts'), ctx.volumeNames));
  out.push(...validateResources(c['resources'], child(at, 'resources')));
  out.push(...validateLifecycle(c['lifecycle'], child(at, 'lifecycle')));

  const restart = c['restartPolicy'];
  const sidecar = ctx.init && restart === 'Always';
  if (restart !== undefined && restart !== null) {
    if (!ctx.init) out.push(forbidden(child(at, 'restartPolicy'), 'may not be set for non-init containers'));
    else if (restart !== 'Always') out.push(notSupported(child(at, 'restartPolicy'), restart, ['Always']));
  }
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'] as const) {
    if (ctx.init && !sidecar && c[probe] !== undefined && c[probe] !== null) {
      out.push(forbidden(child(at, probe), 'may not be set for init containers without restartPolicy=Always'));
      continue;
    }
    out.push(...validateProbe(c[probe], child(at, probe), probe !== 'readinessProbe'));
  }
  return out;
}

/** Validates app or init containers; `names` collects names across both lists for uniqueness. */
function validateContainers(list: unknown, path: string, names: Set<string>, ctx: ContainerContext): StatusCause[] {
  const out: StatusCause[] = [];
  asArray(list).forEach((c, i) => {
    const at = index(path, i);
    if (!isRecord(c)) {
      out.push(invalid(at, String(c), 'must be a container object'));
      return;
    }
    const name = asString(c['name']);
    if (name === '') out.push(required(child(at, 'name')));
    else out.push(...eachInvalid(child(at, 'name'), name, isDNS1123Label(name)));
    if (name !== '' && names.has(name)) out.push(duplicate(child(at, 'name'), name));
    names.add(name);
    out.push(...validateContainer(c, at, ctx));
  });
  return out;
}

// ------------------------------------------------------------------------------------ volumes

function validateVolumes(volumes: unknown, path: string): { causes: StatusCause[]; names: Set<string> } {
  const out: StatusCause[] = [];
  const names = new Set<string>();
  asArray(volumes).forEach((v, i) => {
    const at = index(path, i);
    if (!isRecord(v)) {
      out.push(invalid(at, String(v), 'must be a volume object'));
      return;
    }
    const name = asString(v['name']);
    const sources = Object.keys(v).filter((k) => !VOLUME_NON_SOURCE_FIELDS.has(k) && v[k] !== undefined && v[k] !== null);
    if (sources.length === 0) out.push(required(at, 'must specify a volume type'));
    for (const extra of sources.slice(1)) out.push(forbidden(child(at, extra), 'may not specify more than 1 volume type'));
    const source = sources[0];
    if (source === 'configMap' && isRecord(v['configMap']) && asString(v['configMap']['name']) === '') {
      out.push(required(child(at, 'configMap', 'name')));
    }
    if (source === 'secret' && isRecord(v['secret']) && asString(v['secret']['secretName']) === '') {
      out.push(required(child(at, 'secret', 'secretName')));
    }
    if (source === 'hostPath' && isRecord(v['hostPath']) && asString(v['hostPath']['path']) === '') {
      out.push(required(child(at, 'hostPath', 'path')));
    }
    if (source === 'persistentVolumeClaim' && isRecord(v['persistentVolumeClaim']) && asString(v['persistentVolumeClaim']['claimName']) === '') {
      out.push(required(child(at, 'persistentVolumeClaim', 'claimName')));
    }
    if (name === '') out.push(required(child(at, 'name')));
    else out.push(...eachInvalid(child(at, 'name'), name, isDNS1123Label(name)));
    if (names.has(name)) out.push(duplicate(child(at, 'name'), name));
    names.add(name);
  });
  return { causes: out, names };
}

// ------------------------------------------------------------------------------------ scheduling

/** Taint effects; `allowEmpty` for tolerations, where empty means "all effects". */
export function validateTaintEffect(effect: unknown, allowEmpty: boolean, path: string): StatusCause[] {
  if (effect === undefined || effect === null || effect === '') return allowEmpty ? [] : [required(path)];
  return (TAINT_EFFECTS as readonly unknown[]).includes(effect) ? [] : [notSupported(path, effect, TAINT_EFFECTS)];
}

export function validateTolerations(tolerations: unknown, path: string): StatusCause[] {
  const out: StatusCause[] = [];
  asArray(tolerations).forEach((t, i) => {
    const at = index(path, i);
    if (!isRecord(t)) {
      out.push(invalid(at, String(t), 'must be a toleration object'));
      return;
    }
    const k = asString(t['key']);
    const operator = t['operator'] ?? '';
    const value = asString(t['value']);
    if (k !== '') out.push(...eachInvalid(child(at, 'key'), k, isQualifiedName(k)));
    if (k === '' && operator !== 'Exists') {
      out.push(invalid(child(at, 'operator'), operator, 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    }
    if (t['tolerationSeconds'] !== undefined && t['tolerationSeconds'] !== null && t['effect'] !== 'NoExecute') {
      out.push(invalid(child(at, 'effect'), t['effect'] ?? '', "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    }
    if (operator === 'Equal' || operator === '') {
      out.push(...eachInvalid(child(at, 'operator'), value, isValidLabelValue(value)));
    } else if (operator === 'Exists') {
      if (value !== '') out.push(invalid(child(at, 'operator'), value, "value must be empty when `operator` is 'Exists'"));
    } else {
      out.push(notSupported(child(at, 'operator'), operator, TOLERATION_OPERATORS));
    }
    out.push(...validateTaintEffect(t['effect'], true, child(at, 'effect')));
  });
  return out;
}

function validateNodeSelectorRequirements(list: unknown, path: string, keysAreLabels: boolean): StatusCause[] {
  const out: StatusCause[] = [];
  asArray(list).forEach((r, i) => {
    const at = index(path, i);
    if (!isRecord(r)) return;
    const operator = asString(r['operator']);
    const values = asArray(r['values']);
    switch (operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) out.push(required(child(at, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) out.push(forbidden(child(at, 'values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        break;
      case 'Gt':
      case 'Lt':
        if (values.length !== 1) out.push(required(child(at, 'values'), "must be specified single value when `operator` is 'Lt' or 'Gt'"));
        break;
      default:
        out.push(notSupported(child(at, 'operator'), operator, NODE_SELECTOR_OPERATORS));
    }
    const k = asString(r['key']);
    if (keysAreLabels) out.push(...eachInvalid(child(at, 'key'), k, isQualifiedName(k)));
  });
  return out;
}

export function validateNodeSelectorTerm(term: unknown, path: string): StatusCause[] {
  if (!isRecord(term)) return [];
  return [
    ...validateNodeSelectorRequirements(term['matchExpressions'], child(path, 'matchExpressions'), true),
    ...validateNodeSelectorRequirements(term['matchFields'], child(path, 'matchFields'), false),
  ];
}

function validateWeight(weight: unknown, path: string): StatusCause[] {
  return typeof weight === 'number' && weight >= 1 && weight <= 100 ? [] : [invalid(path, weight ?? 0, 'must be in the range 1-100')];
}

function validatePodAffinityTerm(term: unknown, path: string): StatusCause[] {
  if (!isRecord(term)) return [];
  const out = validateLabelSelector(term['labelSelector'], child(path, 'labelSelector'));
  const topologyKey = asString(term['topologyKey']);
  if (topologyKey === '') out.push(required(child(path, 'topologyKey'), 'can not be empty'));
  else out.push(...eachInvalid(child(path, 'topologyKey'), topologyKey, isQualifiedName(topologyKey)));
  return out;
}

function validateAffinity(affinity: unknown, path: string): StatusCause[] {
  if (!isRecord(affinity)) return [];
  const out: StatusCause[] = [];
  const node = affinity['nodeAffinity'];
  if (isRecord(node)) {
    const nodePath = child(path, 'nodeAffinity');
    const req = node['requiredDuringSchedulingIgnoredDuringExecution'];
    if (isRecord(req)) {
      const termsPath = child(nodePath, 'requiredDuringSchedulingIgnoredDuringExecution', 'nodeSelectorTerms');
      const terms = asArray(req['nodeSelectorTerms']);
      if (terms.length === 0) out.push(required(termsPath, 'must have at least one node selector term'));
      terms.forEach((t, i) => out.push(...validateNodeSelectorTerm(t, index(termsPath, i))));
    }
    asArray(node['preferredDuringSchedulingIgnoredDuringExecution']).forEach((p, i) => {
      if (!isRecord(p)) return;
      const at = index(child(nodePath, 'preferredDuringSchedulingIgnoredDuringExecution'), i);
      out.push(...validateWeight(p['weight'], child(at, 'weight')));
      out.push(...validateNodeSelectorTerm(p['preference'], child(at, 'preference')));
    });
  }
  for (const kind of ['podAffinity', 'podAntiAffinity']) {
    const pa = affinity[kind];
    if (!isRecord(pa)) continue;
    const paPath = child(path, kind);
    asArray(pa['requiredDuringSchedulingIgnoredDuringExecution']).forEach((t, i) => {
      out.push(...validatePodAffinityTerm(t, index(child(paPath, 'requiredDuringSchedulingIgnoredDuringExecution'), i)));
    });
    asArray(pa['preferredDuringSchedulingIgnoredDuringExecution']).forEach((p, i) => {
      if (!isRecord(p)) return;
      const at = index(child(paPath, 'preferredDuringSchedulingIgnoredDuringExecution'), i);
      out.push(...validateWeight(p['weight'], child(at, 'weight')));
      out.push(...validatePodAffinityTerm(p['podAffinityTerm'], child(at, 'podAffinityTerm')));
    });
  }
  return out;
}

// ------------------------------------------------------------------------------------ pod spec

export interface PodSpecOptions {
  /**
   * The restart policies this context allows and the error for others. Undefined for a bare Pod,
   * where any of Always/OnFailure/Never is fine.
   */
  restartPolicy?: (value: unknown, path: string) => StatusCause[];
  /** Workload templates may not set activeDeadlineSeconds (ReplicaSet, Deployment, DaemonSet). */
  forbidActiveDeadline?: string;
  /** Volumes the controller adds to every pod (a StatefulSet's volumeClaimTemplates): mounts may name them. */
  extraVolumeNames?: readonly string[];
}

const IP_MESSAGE = 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)';

/** validatePodDNSConfig: required with dnsPolicy None; at most 3 nameservers, 32 searches of 2048 characters. */
function validateDnsConfig(config: unknown, policy: unknown, path: string): StatusCause[] {
  const out: StatusCause[] = [];
  if (policy === 'None' && !isRecord(config)) return [required(path, 'must provide `dnsConfig` when `dnsPolicy` is None')];
  if (!isRecord(config)) return out;
  const nameservers = asArray(config['nameservers']).map(asString);
  if (policy === 'None' && nameservers.length === 0) out.push(required(child(path, 'nameservers'), 'must provide at least one DNS nameserver when `dnsPolicy` is None'));
  if (nameservers.length > 3) out.push(invalid(child(path, 'nameservers'), goStringSlice(nameservers), 'must not have more than 3 nameservers'));
  nameservers.forEach((ns, i) => {
    if (!isIPv4(ns) && !isIPv6(ns)) out.push(invalid(index(child(path, 'nameservers'), i), ns, IP_MESSAGE));
  });
  const searches = asArray(config['searches']).map(asString);
  if (searches.length > 32) out.push(invalid(child(path, 'searches'), goStringSlice(searches), 'must not have more than 32 search paths'));
  if (searches.join(' ').length > 2048) out.push(invalid(child(path, 'searches'), goStringSlice(searches), 'must not have more than 2048 characters (including spaces) in the search list'));
  searches.forEach((s, i) => {
    if (s === '.') return;
    out.push(...eachInvalid(index(child(path, 'searches'), i), s, isDNS1123Subdomain(s.replace(/\.$/, ''))));
  });
  asArray(config['options']).forEach((o, i) => {
    if (!isRecord(o) || asString(o['name']) === '') out.push(required(index(child(path, 'options'), i), 'Option.Name must not be empty'));
  });
  return out;
}

/** hostAliases: a valid IP and DNS-subdomain hostnames each. */
function validateHostAliases(aliases: unknown, path: string): StatusCause[] {
  const out: StatusCause[] = [];
  asArray(aliases).forEach((a, i) => {
    const at = index(path, i);
    const ip = isRecord(a) ? asString(a['ip']) : '';
    if (!isIPv4(ip) && !isIPv6(ip)) out.push(invalid(child(at, 'ip'), ip, IP_MESSAGE));
    asArray(isRecord(a) ? a['hostnames'] : undefined).forEach((h, j) => {
      out.push(...eachInvalid(index(child(at, 'hostnames'), j), asString(h), isDNS1123Subdomain(asString(h))));
    });
  });
  return out;
}

export function validatePodSpec(spec: unknown, path: string, opts: PodSpecOptions = {}): StatusCause[] {
  if (spec === undefined || spec === null) return [required(path)];
  if (!isRecord(spec)) return [invalid(path, String(spec), 'must be a pod spec object')];
  const out: StatusCause[] = [];
  const { causes: volumeCauses, names: volumeNames } = validateVolumes(spec['volumes'], child(path, 'volumes'));
  for (const extra of opts.extraVolumeNames ?? []) volumeNames.add(extra);
  out.push(...volumeCauses);

  const ctx = { volumeNames, hostNetwork: spec['hostNetwork'] === true };
  const containerNames = new Set<string>();
  if (asArray(spec['containers']).length === 0) out.push(required(child(path, 'containers')));
  out.push(...validateContainers(spec['containers'], child(path, 'containers'), containerNames, { ...ctx, init: false }));
  out.push(...validateContainers(spec['initContainers'], child(path, 'initContainers'), containerNames, { ...ctx, init: true }));

  const restart = spec['restartPolicy'];
  if (opts.restartPolicy) {
    out.push(...opts.restartPolicy(restart, child(path, 'restartPolicy')));
  } else if (restart === '') {
    out.push(required(child(path, 'restartPolicy')));
  } else if (restart !== undefined && !(RESTART_POLICIES as readonly unknown[]).includes(restart)) {
    out.push(notSupported(child(path, 'restartPolicy'), restart, RESTART_POLICIES));
  }

  const dns = spec['dnsPolicy'];
  if (dns === '') out.push(required(child(path, 'dnsPolicy')));
  else if (dns !== undefined && !(DNS_POLICIES as readonly unknown[]).includes(dns)) {
    out.push(notSupported(child(path, 'dnsPolicy'), dns, DNS_POLICIES));
  }

  out.push(...validateDnsConfig(spec['dnsConfig'], dns, child(path, 'dnsConfig')));
  out.push(...validateHostAliases(spec['hostAliases'], child(path, 'hostAliases')));

  out.push(...nonNegative(child(path, 'terminationGracePeriodSeconds'), spec['terminationGracePeriodSeconds']));
  const deadline = spec['activeDeadlineSeconds'];
  if (deadline !== undefined && deadline !== null) {
    if (opts.forbidActiveDeadline) {
      out.push(forbidden(child(path, 'activeDeadlineSeconds'), opts.forbidActiveDeadline));
    } else if (typeof deadline !== 'number' || !Number.isInteger(deadline) || deadline < 1 || deadline > MAX_INT32) {
      out.push(invalid(child(path, 'activeDeadlineSeconds'), deadline, inclusiveRangeError(1, MAX_INT32)));
    }
  }

  if (spec['nodeSelector'] !== undefined && spec['nodeSelector'] !== null) {
    out.push(...validateLabels(spec['nodeSelector'] as Record<string, string>, child(path, 'nodeSelector')));
  }
  for (const [field, check] of [
    ['serviceAccountName', isDNS1123Subdomain],
    ['nodeName', isDNS1123Subdomain],
    ['hostname', isDNS1123Label],
    ['subdomain', isDNS1123Label],
  ] as const) {
    const value = asString(spec[field]);
    if (value !== '') out.push(...eachInvalid(child(path, field), value, check(value)));
  }
  out.push(...validateTolerations(spec['tolerations'], child(path, 'tolerations')));
  out.push(...validateAffinity(spec['affinity'], child(path, 'affinity')));
  return out;
}

/** A pod template: its labels/annotations, then its pod spec. */
export function validatePodTemplate(template: unknown, path: string, opts: PodSpecOptions = {}): StatusCause[] {
  if (template === undefined || template === null) return [required(path)];
  if (!isRecord(template)) return [invalid(path, String(template), 'must be a pod template object')];
  const out: StatusCause[] = [];
  const meta = isRecord(template['metadata']) ? template['metadata'] : {};
  out.push(...validateLabels(meta['labels'] as Record<string, string> | undefined, child(path, 'metadata', 'labels')));
  out.push(...validateAnnotations(meta['annotations'] as Record<string, string> | undefined, child(path, 'metadata', 'annotations')));
  out.push(...validatePodSpec(template['spec'], child(path, 'spec'), opts));
  return out;
}

/** The template labels, for selector matching. */
export function templateLabels(template: unknown): Record<string, string> | undefined {
  if (!isRecord(template) || !isRecord(template['metadata'])) return undefined;
  const labels = template['metadata']['labels'];
  return isRecord(labels) ? (labels as Record<string, string>) : undefined;
}
