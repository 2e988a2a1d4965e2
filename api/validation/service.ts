/**
 * Service and Endpoints validation (core ValidateService, the NodePort range the allocator enforces,
 * and the clusterIP rules of a single-stack IPv4 cluster).
 */
import type { KubeObject } from '../meta.js';
import type { StatusCause } from '../status.js';
import {
  asArray, asString, child, duplicate, eachInvalid, forbidden, goStringSlice, index, invalid, isRecord, notSupported,
  required,
} from './field.js';
import { isDNS1123Label, isDNS1123Subdomain, isIPv4, isIPv6, isValidPortNum, validateLabels } from './names.js';
import { validatePortNumOrName, validateProtocol } from './podspec.js';
import { isIPv4Cidr, SOURCE_RANGES_ANNOTATION } from '../load-balancer.js';

const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'] as const;
const SESSION_AFFINITIES = ['ClientIP', 'None'] as const;
const TRAFFIC_POLICIES = ['Cluster', 'Local'] as const;
export const NODE_PORT_MIN = 30000;
export const NODE_PORT_MAX = 32767;
/** The kubelet's port may not be exposed by a LoadBalancer. */
const KUBELET_PORT = 10250;

type Obj = Record<string, unknown>;

function specOf(obj: KubeObject | undefined): Obj {
  return obj && isRecord(obj['spec']) ? obj['spec'] : {};
}

/** clusterIPs as the server normalises them: clusterIPs when given, else [clusterIP]. */
function clusterIPsOf(spec: Obj): string[] {
  const list = asArray(spec['clusterIPs']).map(asString);
  if (list.length > 0) return list;
  const single = asString(spec['clusterIP']);
  return single === '' ? [] : [single];
}

function validateClusterIPs(spec: Obj, type: unknown): StatusCause[] {
  const out: StatusCause[] = [];
  const ips = clusterIPsOf(spec);
  const single = asString(spec['clusterIP']);
  const listed = asArray(spec['clusterIPs']).map(asString);
  if (single !== '' && listed.length > 0 && listed[0] !== single) {
    out.push(invalid('spec.clusterIPs', goStringSlice(listed), 'first value must match `clusterIP`'));
  }
  if (type === 'ExternalName') {
    if (ips.length > 0) out.push(forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
    return out;
  }
  ips.forEach((ip, i) => {
    const at = index('spec.clusterIPs', i);
    if (ip === 'None') {
      if (i > 0) out.push(invalid(at, ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
      else if (type === 'NodePort' || type === 'LoadBalancer') out.push(invalid(at, ip, `may not be set to 'None' for ${String(type)} services`));
      return;
    }
    if (isIPv6(ip)) {
      out.push(invalid(at, ip, `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``));
    } else if (!isIPv4(ip)) {
      out.push(invalid(at, ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
    }
  });
  if (ips.length > 1) out.push(invalid('spec.clusterIPs', goStringSlice(ips), 'may specify no more than one IP for each IP family'));
  return out;
}

function validatePorts(spec: Obj, type: unknown, headless: boolean): StatusCause[] {
  const out: StatusCause[] = [];
  const ports = asArray(spec['ports']);
  if (ports.length === 0 && !headless && type !== 'ExternalName') out.push(required('spec.ports'));
  const names = new Set<string>();
  const portKeys = new Set<string>();
  const nodePortKeys = new Set<string>();
  ports.forEach((p, i) => {
    const at = index('spec.ports', i);
    if (!isRecord(p)) {
      out.push(invalid(at, String(p), 'must be a service port object'));
      return;
    }
    const name = asString(p['name']);
    if (ports.length > 1 && name === '') {
      out.push(required(child(at, 'name')));
    } else if (name !== '') {
      out.push(...eachInvalid(child(at, 'name'), name, isDNS1123Label(name)));
      if (names.has(name)) out.push(duplicate(child(at, 'name'), name));
      names.add(name);
    }
    const port = p['port'];
    out.push(...eachInvalid(child(at, 'port'), port ?? 0, isValidPortNum(Number(port ?? 0))));
    if (type === 'LoadBalancer' && port === KUBELET_PORT) {
      out.push(invalid(at, port, `may not expose port ${KUBELET_PORT} externally since it is used by kubelet`));
    }
    if (p['protocol'] === undefined) out.push(required(child(at, 'protocol')));
    else out.push(...validateProtocol(p['protocol'], child(at, 'protocol')));
    if (p['targetPort'] !== undefined && p['targetPort'] !== 0 && p['targetPort'] !== '') {
      out.push(...validatePortNumOrName(p['targetPort'], child(at, 'targetPort')));
    }
    const nodePort = p['nodePort'];
    if (nodePort !== undefined && nodePort !== null && nodePort !== 0) {
      if (type === 'ClusterIP' || type === undefined) {
        out.push(forbidden(child(at, 'nodePort'), "may not be used when `type` is 'ClusterIP'"));
      } else if (type === 'ExternalName') {
        out.push(forbidden(child(at, 'nodePort'), "may not be used when `type` is 'ExternalName'"));
      } else if (typeof nodePort !== 'number' || !Number.isInteger(nodePort) || nodePort < NODE_PORT_MIN || nodePort > NODE_PORT_MAX) {
        out.push(invalid(child(at, 'nodePort'), nodePort,
          `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_MIN}-${NODE_PORT_MAX}`));
      }
      const nodeKey = `${String(p['protocol'])}/${String(nodePort)}`;
      if (nodePortKeys.has(nodeKey)) out.push(duplicate(child(at, 'nodePort'), nodePort));
      nodePortKeys.add(nodeKey);
    }
    const portKey = `${String(p['protocol'])}/${String(port)}`;
    if (portKeys.has(portKey)) {
      out.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: core.ServicePort{Name:"", Protocol:${JSON.stringify(String(p['protocol']))}, AppProtocol:(*string)(nil), Port:${String(port)}, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}`, field: at });
    }
    portKeys.add(portKey);
  });
  return out;
}

export function validateService(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const spec = specOf(obj);
  const out: StatusCause[] = [];
  const type = spec['type'];
  if (type === '') out.push(required('spec.type'));
  else if (type !== undefined && !(SERVICE_TYPES as readonly unknown[]).includes(type)) {
    out.push(notSupported('spec.type', type, SERVICE_TYPES));
  }
  const headless = clusterIPsOf(spec)[0] === 'None';
  out.push(...validatePorts(spec, type, headless));
  out.push(...validateClusterIPs(spec, type));

  if (type === 'ExternalName') {
    const cname = asString(spec['externalName']).replace(/\.$/, '');
    if (cname === '') out.push(required('spec.externalName'));
    else out.push(...eachInvalid('spec.externalName', cname, isDNS1123Subdomain(cname)));
    if (asArray(spec['ipFamilies']).length > 0) out.push(forbidden('spec.ipFamilies', 'may not be set for ExternalName services'));
    if (spec['ipFamilyPolicy'] !== undefined && spec['ipFamilyPolicy'] !== null) {
      out.push(forbidden('spec.ipFamilyPolicy', 'may not be set for ExternalName services'));
    }
  }
  if (spec['selector'] !== undefined && spec['selector'] !== null) {
    out.push(...validateLabels(spec['selector'] as Record<string, string>, 'spec.selector'));
  }
  const affinity = spec['sessionAffinity'];
  if (affinity === '') out.push(required('spec.sessionAffinity'));
  else if (affinity !== undefined && !(SESSION_AFFINITIES as readonly unknown[]).includes(affinity)) {
    out.push(notSupported('spec.sessionAffinity', affinity, SESSION_AFFINITIES));
  }
  for (const policy of ['externalTrafficPolicy', 'internalTrafficPolicy']) {
    const value = spec[policy];
    if (value !== undefined && value !== null && !(TRAFFIC_POLICIES as readonly unknown[]).includes(value)) {
      out.push(notSupported(child('spec', policy), value, TRAFFIC_POLICIES));
    }
  }
  const externallyAccessible = type === 'NodePort' || type === 'LoadBalancer' ||
    ((type === 'ClusterIP' || type === undefined) && asArray(spec['externalIPs']).length > 0);
  const etp = spec['externalTrafficPolicy'];
  if (etp !== undefined && etp !== null && etp !== '' && !externallyAccessible) {
    out.push(invalid('spec.externalTrafficPolicy', etp, 'may only be set for externally-accessible services'));
  }
  out.push(...validateLoadBalancerFields(obj, spec, type, etp));
  asArray(spec['externalIPs']).forEach((ip, i) => {
    if (!isIPv4(asString(ip)) && !isIPv6(asString(ip))) {
      out.push(invalid(index('spec.externalIPs', i), ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
    }
  });

  if (old) {
    const before = clusterIPsOf(specOf(old));
    const after = clusterIPsOf(spec);
    const wasExternal = specOf(old)['type'] === 'ExternalName';
    if (!wasExternal && type !== 'ExternalName' && before.length > 0 && after.length > 0 && before[0] !== after[0]) {
      out.push(invalid(index('spec.clusterIPs', 0), goStringSlice(after), 'may not change once set'));
    }
  }
  return out;
}

const SOURCE_RANGE_DETAIL = 'must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 ';

/** healthCheckNodePort, loadBalancerSourceRanges and its annotation, as upstream's ValidateService. */
function validateLoadBalancerFields(obj: KubeObject, spec: Obj, type: unknown, etp: unknown): StatusCause[] {
  const out: StatusCause[] = [];
  const hc = spec['healthCheckNodePort'];
  if (hc !== undefined && hc !== null && hc !== 0) {
    if (type !== 'LoadBalancer' || etp !== 'Local') {
      out.push(invalid('spec.healthCheckNodePort', hc, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
    } else if (typeof hc !== 'number' || !Number.isInteger(hc) || hc < 1 || hc > 65535) {
      out.push(...eachInvalid('spec.healthCheckNodePort', hc, isValidPortNum(Number(hc))));
    }
  }
  const ranges = asArray(spec['loadBalancerSourceRanges']);
  if (ranges.length > 0) {
    if (type !== 'LoadBalancer') out.push(forbidden('spec.loadBalancerSourceRanges', "may only be used when `type` is 'LoadBalancer'"));
    ranges.forEach((r, i) => {
      if (!isIPv4Cidr(asString(r).trim())) out.push(invalid(index('spec.loadBalancerSourceRanges', i), r, SOURCE_RANGE_DETAIL));
    });
  }
  const annotations = isRecord(obj.metadata.annotations) ? obj.metadata.annotations : {};
  const annotated = annotations[SOURCE_RANGES_ANNOTATION];
  if (annotated !== undefined && type === 'LoadBalancer' && ranges.length === 0) {
    const bad = annotated.split(',').map((r) => r.trim()).some((r) => !isIPv4Cidr(r));
    if (bad) out.push(invalid(`metadata.annotations[${SOURCE_RANGES_ANNOTATION}]`, annotated, SOURCE_RANGE_DETAIL));
  }
  return out;
}

export function validateEndpoints(obj: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  asArray(obj['subsets']).forEach((subset, i) => {
    const at = index('subsets', i);
    if (!isRecord(subset)) return;
    for (const list of ['addresses', 'notReadyAddresses']) {
      asArray(subset[list]).forEach((a, j) => {
        const ip = isRecord(a) ? asString(a['ip']) : '';
        const path = child(index(child(at, list), j), 'ip');
        if (ip === '') out.push(required(path));
        else if (!isIPv4(ip) && !isIPv6(ip)) out.push(invalid(path, ip, 'must be a valid IP address'));
      });
    }
    asArray(subset['ports']).forEach((p, j) => {
      if (!isRecord(p)) return;
      const path = index(child(at, 'ports'), j);
      const name = asString(p['name']);
      if (name !== '') out.push(...eachInvalid(child(path, 'name'), name, isDNS1123Label(name)));
      out.push(...eachInvalid(child(path, 'port'), p['port'] ?? 0, isValidPortNum(Number(p['port'] ?? 0))));
      out.push(...validateProtocol(p['protocol'], child(path, 'protocol')));
    });
  });
  return out;
}
