/**
 * discovery.k8s.io/v1 EndpointSlice validation (upstream's ValidateEndpointSlice): the address type
 * (immutable), up to 1000 endpoints of 1–100 addresses of that type each, hostnames and node names,
 * and up to 20000 uniquely named ports.
 */
import type { KubeObject } from '../meta.js';
import type { StatusCause } from '../status.js';
import { asArray, asString, child, duplicate, eachInvalid, index, invalid, isRecord, notSupported, required } from './field.js';
import { isDNS1123Label, isDNS1123Subdomain, isIPv4, isIPv6, isValidPortNum } from './names.js';
import { validateProtocol } from './podspec.js';

export const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'] as const;
export const MAX_SLICE_ENDPOINTS = 1000;
export const MAX_ENDPOINT_ADDRESSES = 100;
const MAX_SLICE_PORTS = 20000;

/** field.TooMany */
function tooMany(field: string, actual: number, max: number): StatusCause {
  return { reason: 'FieldValueTooMany', message: `Too many: ${actual}: must have at most ${max} items`, field };
}

function validateAddress(addressType: string, address: string, path: string): StatusCause[] {
  if (addressType === 'IPv4') return isIPv4(address) ? [] : [invalid(path, address, 'must be a valid IPv4 address')];
  if (addressType === 'IPv6') return isIPv6(address) ? [] : [invalid(path, address, 'must be a valid IPv6 address')];
  if (addressType === 'FQDN') return eachInvalid(path, address, isDNS1123Subdomain(address.replace(/\.$/, '')));
  return [];
}

export function validateEndpointSlice(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const addressType = asString(obj['addressType']);
  if (addressType === '') out.push(required('addressType'));
  else if (!(ADDRESS_TYPES as readonly string[]).includes(addressType)) out.push(notSupported('addressType', addressType, ADDRESS_TYPES));
  if (old && asString(old['addressType']) !== addressType) out.push(invalid('addressType', addressType, 'field is immutable'));

  const endpoints = asArray(obj['endpoints']);
  if (endpoints.length > MAX_SLICE_ENDPOINTS) out.push(tooMany('endpoints', endpoints.length, MAX_SLICE_ENDPOINTS));
  endpoints.forEach((ep, i) => {
    const at = index('endpoints', i);
    if (!isRecord(ep)) {
      out.push(invalid(at, String(ep), 'must be an endpoint object'));
      return;
    }
    const addresses = asArray(ep['addresses']);
    const addrPath = child(at, 'addresses');
    if (addresses.length === 0) out.push(required(addrPath, 'must contain at least 1 address'));
    else if (addresses.length > MAX_ENDPOINT_ADDRESSES) out.push(tooMany(addrPath, addresses.length, MAX_ENDPOINT_ADDRESSES));
    else addresses.forEach((a, j) => out.push(...validateAddress(addressType, asString(a), index(addrPath, j))));
    const hostname = asString(ep['hostname']);
    if (hostname !== '') out.push(...eachInvalid(child(at, 'hostname'), hostname, isDNS1123Label(hostname)));
    const nodeName = asString(ep['nodeName']);
    if (nodeName !== '') out.push(...eachInvalid(child(at, 'nodeName'), nodeName, isDNS1123Subdomain(nodeName)));
  });

  const ports = asArray(obj['ports']);
  if (ports.length > MAX_SLICE_PORTS) out.push(tooMany('ports', ports.length, MAX_SLICE_PORTS));
  const names = new Set<string>();
  ports.forEach((p, i) => {
    const at = index('ports', i);
    if (!isRecord(p)) return;
    const name = asString(p['name']);
    if (name !== '') out.push(...eachInvalid(child(at, 'name'), name, isDNS1123Label(name)));
    if (names.has(name)) out.push(duplicate(child(at, 'name'), name));
    names.add(name);
    if (p['protocol'] === undefined || p['protocol'] === null) out.push(required(child(at, 'protocol')));
    else out.push(...validateProtocol(p['protocol'], child(at, 'protocol')));
    const port = p['port'];
    if (port !== undefined && port !== null) out.push(...eachInvalid(child(at, 'port'), port, isValidPortNum(Number(port))));
  });
  return out;
}
