/**
 * Validation of networking.k8s.io/v1 Ingress and IngressClass as upstream's networking validation
 * does it: either rules or a defaultBackend; hosts are DNS names (a wildcard only as the whole first
 * label), never IP addresses; every path names its pathType, Exact/Prefix paths are absolute and
 * clean; a backend is a Service (name + port name or number) or a resource, not both; an
 * IngressClass names a domain-prefixed controller, which is immutable.
 */
import type { KubeObject } from '../meta.js';
import type { StatusCause } from '../status.js';
import {
  asArray, asString, child, eachInvalid, forbidden, GoText, index, invalid, isRecord, notSupported, required, tooLong,
} from './field.js';
import { DNS1123_SUBDOMAIN_MAX, isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, isIPv4, isIPv6, isValidPortName, isValidPortNum, maxLenError, regexError } from './names.js';
import { LEGACY_INGRESS_CLASS_ANNOTATION } from '../networking-types.js';

type Obj = Record<string, unknown>;

const PATH_TYPES = ['Exact', 'ImplementationSpecific', 'Prefix'];
const INVALID_PATH_SEQUENCES = ['//', '/./', '/../', '%2f', '%2F'];
const INVALID_PATH_SUFFIXES = ['/..', '/.'];
const MAX_CONTROLLER_LENGTH = 250;
const PARAMETER_SCOPES = ['Cluster', 'Namespace'];

const DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const WILDCARD_FMT = `\\*\\.${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const WILDCARD_RE = new RegExp(`^${WILDCARD_FMT}$`);
const WILDCARD_MSG = "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character";
const HTTP_PATH_FMT = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+";
const HTTP_PATH_RE = new RegExp(`^${HTTP_PATH_FMT}$`);

/** IsWildcardDNS1123Subdomain: `*.example.com`. */
export function isWildcardDNS1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (value.length > DNS1123_SUBDOMAIN_MAX) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX));
  if (!WILDCARD_RE.test(value)) errs.push(regexError(WILDCARD_MSG, WILDCARD_FMT, '*.example.com'));
  return errs;
}

/** IsValidPathSegmentName: what may stand in one segment of a URL path (kinds, names). */
function isValidPathSegmentName(name: string): string[] {
  if (name === '.' || name === '..') return [`may not be '${name}'`];
  const errs: string[] = [];
  for (const bad of ['/', '%']) if (name.includes(bad)) errs.push(`may not contain '${bad}'`);
  return errs;
}

function validateHost(host: string, path: string): StatusCause[] {
  if (isIPv4(host) || isIPv6(host)) return [invalid(path, host, 'must be a DNS name, not an IP address')];
  return eachInvalid(path, host, host.includes('*') ? isWildcardDNS1123Subdomain(host) : isDNS1123Subdomain(host));
}

function validateTypedReference(ref: Obj, path: string): StatusCause[] {
  const out: StatusCause[] = [];
  if (typeof ref['apiGroup'] === 'string') out.push(...eachInvalid(child(path, 'apiGroup'), ref['apiGroup'], isDNS1123Subdomain(ref['apiGroup'])));
  for (const [field, detail] of [['kind', 'kind is required'], ['name', 'name is required']] as const) {
    const value = asString(ref[field]);
    if (value === '') out.push(required(child(path, field), detail));
    else out.push(...eachInvalid(child(path, field), value, isValidPathSegmentName(value)));
  }
  return out;
}

function validateBackend(backend: unknown, path: string): StatusCause[] {
  const b = isRecord(backend) ? backend : {};
  const resource = b['resource'];
  const service = b['service'];
  const hasResource = resource !== undefined && resource !== null;
  const hasService = service !== undefined && service !== null;
  if (hasResource && hasService) return [invalid(path, '', 'cannot set both resource and service backends')];
  if (hasResource) return validateTypedReference(isRecord(resource) ? resource : {}, child(path, 'resource'));
  if (!hasService) return [invalid(path, '', 'resource or service backend is required')];
  const svc = isRecord(service) ? service : {};
  const out: StatusCause[] = [];
  const name = asString(svc['name']);
  if (name === '') out.push(required(child(path, 'service', 'name')));
  else out.push(...eachInvalid(child(path, 'service', 'name'), name, isDNS1035Label(name)));
  const port = isRecord(svc['port']) ? svc['port'] : {};
  const portName = asString(port['name']);
  const portNumber = typeof port['number'] === 'number' ? port['number'] : 0;
  if (portName !== '' && portNumber !== 0) out.push(invalid(path, '', 'cannot set both port name & port number'));
  else if (portName !== '') out.push(...eachInvalid(child(path, 'service', 'port', 'name'), portName, isValidPortName(portName)));
  else if (portNumber !== 0) out.push(...eachInvalid(child(path, 'service', 'port', 'number'), portNumber, isValidPortNum(portNumber)));
  else out.push(required(path, 'port name or number is required'));
  return out;
}

function validateHttpPath(p: Obj, path: string): StatusCause[] {
  const pathType = p['pathType'];
  if (pathType === undefined || pathType === null) return [required(child(path, 'pathType'), 'pathType must be specified')];
  const value = asString(p['path']);
  const out: StatusCause[] = [];
  if (pathType === 'Exact' || pathType === 'Prefix') {
    if (!value.startsWith('/')) out.push(invalid(child(path, 'path'), value, 'must be an absolute path'));
    if (value !== '') {
      for (const seq of INVALID_PATH_SEQUENCES) if (value.includes(seq)) out.push(invalid(child(path, 'path'), value, `must not contain '${seq}'`));
      for (const suffix of INVALID_PATH_SUFFIXES) if (value.endsWith(suffix)) out.push(invalid(child(path, 'path'), value, `cannot end with '${suffix}'`));
    }
  } else if (pathType === 'ImplementationSpecific') {
    if (value !== '' && !value.startsWith('/')) out.push(invalid(child(path, 'path'), value, 'must be an absolute path'));
  } else {
    out.push(notSupported(child(path, 'pathType'), pathType, PATH_TYPES));
  }
  out.push(...validateBackend(p['backend'], child(path, 'backend')));
  return out;
}

function validateRules(rules: unknown[], path: string): StatusCause[] {
  const out: StatusCause[] = [];
  rules.forEach((r, i) => {
    const rule = isRecord(r) ? r : {};
    const rulePath = index(path, i);
    const host = asString(rule['host']);
    if (host !== '') out.push(...validateHost(host, child(rulePath, 'host')));
    const http = rule['http'];
    if (!isRecord(http)) return;
    const paths = asArray(http['paths']);
    const httpPath = child(rulePath, 'http');
    if (paths.length === 0) out.push(required(child(httpPath, 'paths')));
    paths.forEach((p, j) => out.push(...validateHttpPath(isRecord(p) ? p : {}, index(child(httpPath, 'paths'), j))));
  });
  return out;
}

function validateTls(tls: unknown[], path: string): StatusCause[] {
  const out: StatusCause[] = [];
  tls.forEach((t, i) => {
    const entry = isRecord(t) ? t : {};
    asArray(entry['hosts']).forEach((h, j) => {
      const host = asString(h);
      const p = index(child(index(path, i), 'hosts'), j);
      out.push(...eachInvalid(p, host, host.includes('*') ? isWildcardDNS1123Subdomain(host) : isDNS1123Subdomain(host)));
    });
    const secret = asString(entry['secretName']);
    if (secret !== '') out.push(...eachInvalid(child(index(path, i), 'secretName'), secret, isDNS1123Subdomain(secret)));
  });
  return out;
}

function validateLoadBalancerStatus(status: unknown): StatusCause[] {
  const lb = isRecord(status) && isRecord(status['loadBalancer']) ? status['loadBalancer'] : {};
  const out: StatusCause[] = [];
  asArray(lb['ingress']).forEach((e, i) => {
    const entry = isRecord(e) ? e : {};
    const path = index('status.loadBalancer.ingress', i);
    const ip = asString(entry['ip']);
    if (ip !== '' && !isIPv4(ip) && !isIPv6(ip)) out.push(invalid(child(path, 'ip'), ip, 'must be a valid IP address'));
    const hostname = asString(entry['hostname']);
    if (hostname !== '') {
      out.push(...eachInvalid(child(path, 'hostname'), hostname, isDNS1123Subdomain(hostname)));
      if (isIPv4(hostname) || isIPv6(hostname)) out.push(invalid(child(path, 'hostname'), hostname, 'must be a DNS name, not an IP address'));
    }
  });
  return out;
}

export function validateIngress(obj: KubeObject): StatusCause[] {
  const spec = isRecord((obj as Obj)['spec']) ? (obj as Obj)['spec'] as Obj : {};
  const out: StatusCause[] = [];
  const rules = asArray(spec['rules']);
  const defaultBackend = spec['defaultBackend'];
  if (rules.length === 0 && (defaultBackend === undefined || defaultBackend === null)) {
    const shown = Array.isArray(spec['rules']) ? '[]networking.IngressRule{}' : '[]networking.IngressRule(nil)';
    out.push(invalid('spec', new GoText(shown), 'either `defaultBackend` or `rules` must be specified'));
  }
  if (defaultBackend !== undefined && defaultBackend !== null) out.push(...validateBackend(defaultBackend, 'spec.defaultBackend'));
  out.push(...validateRules(rules, 'spec.rules'));
  out.push(...validateTls(asArray(spec['tls']), 'spec.tls'));
  const className = spec['ingressClassName'];
  if (typeof className === 'string') {
    out.push(...eachInvalid('spec.ingressClassName', className, isDNS1123Subdomain(className)));
    const annotated = obj.metadata.annotations?.[LEGACY_INGRESS_CLASS_ANNOTATION];
    if (annotated !== undefined && annotated !== className) {
      out.push(invalid(`metadata.annotations.${LEGACY_INGRESS_CLASS_ANNOTATION}`, annotated, 'must match `ingressClassName` when both are specified'));
    }
  }
  out.push(...validateLoadBalancerStatus((obj as Obj)['status']));
  return out;
}

function validateDomainPrefixedPath(value: string, path: string): StatusCause[] {
  if (value === '') return [required(path)];
  const slash = value.indexOf('/');
  if (slash <= 0 || slash === value.length - 1) return [invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')];
  const host = value.slice(0, slash);
  const rest = value.slice(slash + 1);
  const out = eachInvalid(path, host, isDNS1123Subdomain(host));
  if (!HTTP_PATH_RE.test(rest)) out.push(invalid(path, rest, regexError('Invalid path', HTTP_PATH_FMT)));
  return out;
}

export function validateIngressClass(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const spec = isRecord((obj as Obj)['spec']) ? (obj as Obj)['spec'] as Obj : {};
  const out: StatusCause[] = [];
  const controller = asString(spec['controller']);
  if (controller.length > MAX_CONTROLLER_LENGTH) out.push(tooLong('spec.controller', MAX_CONTROLLER_LENGTH));
  out.push(...validateDomainPrefixedPath(controller, 'spec.controller'));
  if (old) {
    const oldSpec = isRecord((old as Obj)['spec']) ? (old as Obj)['spec'] as Obj : {};
    if (asString(oldSpec['controller']) !== controller) out.push(invalid('spec.controller', controller, 'field is immutable'));
  }
  const params = spec['parameters'];
  if (isRecord(params)) {
    const path = 'spec.parameters';
    out.push(...validateTypedReference(params, path));
    const scope = params['scope'];
    if (scope === undefined || scope === null) {
      out.push(required(child(path, 'scope')));
    } else if (!PARAMETER_SCOPES.includes(asString(scope))) {
      out.push(notSupported(child(path, 'scope'), scope, PARAMETER_SCOPES));
    } else if (scope === 'Namespace') {
      const ns = params['namespace'];
      if (typeof ns !== 'string') out.push(required(child(path, 'namespace'), "`parameters.scope` is set to 'Namespace'"));
      else out.push(...eachInvalid(child(path, 'namespace'), ns, isDNS1123Label(ns)));
    } else if (params['namespace'] !== undefined && params['namespace'] !== null) {
      out.push(forbidden(child(path, 'namespace'), "`parameters.scope` is set to 'Cluster'"));
    }
  }
  return out;
}

