/**
 * Validation of the storage kinds as upstream's core and storage validation does it: PersistentVolume
 * (one volume source, capacity, access modes, reclaim policy, node affinity; the source is immutable),
 * PersistentVolumeClaim (access modes, a positive storage request; the spec is immutable except
 * binding), StorageClass (provisioner, parameters, reclaim policy and binding mode are immutable).
 */
import type { KubeObject } from '../meta.js';
import type { StatusCause } from '../status.js';
import { deepEqual } from '../object-util.js';
import { compareQuantities, isValidQuantity } from '../quantity.js';
import {
  asArray, asString, child, eachInvalid, forbidden, GoText, index, invalid, isRecord, key, notSupported, required,
} from './field.js';
import { isDNS1123Subdomain, isQualifiedName } from './names.js';
import { validateNodeSelectorTerm } from './podspec.js';
import { validateLabelSelector } from './selector.js';

type Obj = Record<string, unknown>;

const ACCESS_MODES = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'];
const PV_RECLAIM_POLICIES = ['Delete', 'Recycle', 'Retain'];
const SC_RECLAIM_POLICIES = ['Delete', 'Retain'];
const BINDING_MODES = ['Immediate', 'WaitForFirstConsumer'];
const VOLUME_MODES = ['Block', 'Filesystem'];
const HOST_PATH_TYPES = ['', 'BlockDevice', 'CharDevice', 'Directory', 'DirectoryOrCreate', 'File', 'FileOrCreate', 'Socket'];
/** The persistent volume sources corral can mount (a PV must have exactly one of them). */
const PV_SOURCES = ['hostPath', 'local', 'nfs', 'csi', 'iscsi', 'fc', 'cephfs', 'rbd'];
const IMMUTABLE = 'field is immutable';
const NOT_POSITIVE = 'must be greater than zero';

function specOf(obj: KubeObject | undefined): Obj {
  return obj && isRecord(obj['spec']) ? obj['spec'] : {};
}

function validateAccessModes(modes: unknown, path: string, requiredDetail: string): StatusCause[] {
  const list = asArray(modes);
  if (list.length === 0) return [required(path, requiredDetail)];
  const out: StatusCause[] = [];
  for (const mode of list) if (!ACCESS_MODES.includes(asString(mode))) out.push(notSupported(path, mode, ACCESS_MODES));
  if (list.includes('ReadWriteOncePod') && list.length > 1) out.push(forbidden(path, 'may not use ReadWriteOncePod with other access modes'));
  return out;
}

function validateClassName(name: unknown, path: string): StatusCause[] {
  const text = asString(name);
  return text === '' ? [] : eachInvalid(path, text, isDNS1123Subdomain(text));
}

function validateVolumeMode(mode: unknown, path: string): StatusCause[] {
  return mode === undefined || mode === null || VOLUME_MODES.includes(asString(mode)) ? [] : [notSupported(path, mode, VOLUME_MODES)];
}

function validateLocalPath(source: Obj, path: string, absolute: boolean): StatusCause[] {
  const p = asString(source['path']);
  if (p === '') return [required(child(path, 'path'))];
  const out: StatusCause[] = [];
  if (absolute && !p.startsWith('/')) out.push(invalid(child(path, 'path'), p, 'must be an absolute path'));
  if (p.split('/').includes('..')) out.push(invalid(child(path, 'path'), p, "must not contain '..'"));
  return out;
}

/** A storage quantity: well-formed and, where `positive`, above zero. */
function validateStorageQuantity(value: unknown, path: string, positive: boolean): StatusCause[] {
  const text = typeof value === 'number' ? String(value) : asString(value);
  if (!isValidQuantity(text)) return [invalid(path, text, "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")];
  const sign = compareQuantities(text, '0');
  if (sign < 0) return [invalid(path, text, 'must be greater than or equal to 0')];
  if (positive && sign === 0) return [invalid(path, text, NOT_POSITIVE)];
  return [];
}

// ------------------------------------------------------------------------------------ PersistentVolume

export function validatePersistentVolume(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const spec = specOf(obj);
  const out: StatusCause[] = [];
  out.push(...validateAccessModes(spec['accessModes'], 'spec.accessModes', ''));
  const capacity = isRecord(spec['capacity']) ? spec['capacity'] : {};
  const names = Object.keys(capacity);
  if (names.length === 0) {
    out.push(required('spec.capacity'));
  } else if (!names.includes('storage') || names.length > 1) {
    out.push(notSupported('spec.capacity', new GoText(`core.ResourceList{${names.map((n) => JSON.stringify(n)).join(', ')}}`), ['storage']));
  }
  for (const name of names) out.push(...validateStorageQuantity(capacity[name], key('spec.capacity', name), false));
  const policy = spec['persistentVolumeReclaimPolicy'];
  if (policy !== undefined && !PV_RECLAIM_POLICIES.includes(asString(policy))) {
    out.push(notSupported('spec.persistentVolumeReclaimPolicy', policy, PV_RECLAIM_POLICIES));
  }
  out.push(...validateClassName(spec['storageClassName'], 'spec.storageClassName'));
  out.push(...validateVolumeMode(spec['volumeMode'], 'spec.volumeMode'));

  const sources = PV_SOURCES.filter((s) => spec[s] !== undefined && spec[s] !== null);
  if (sources.length === 0) out.push(required('spec', 'must specify a volume type'));
  for (const extra of sources.slice(1)) out.push(forbidden(child('spec', extra), 'may not specify more than 1 volume type'));
  const hostPath = spec['hostPath'];
  if (isRecord(hostPath)) {
    out.push(...validateLocalPath(hostPath, 'spec.hostPath', false));
    const type = hostPath['type'];
    if (type !== undefined && type !== null && !HOST_PATH_TYPES.includes(asString(type))) out.push(notSupported('spec.hostPath.type', type, HOST_PATH_TYPES));
    if (policy === 'Recycle' && asString(hostPath['path']) === '/') out.push(forbidden('spec.persistentVolumeReclaimPolicy', 'may not be \'recycle\' for a hostPath mount of \'/\''));
  }
  const local = spec['local'];
  if (isRecord(local)) {
    out.push(...validateLocalPath(local, 'spec.local', true));
    if (!isRecord(spec['nodeAffinity'])) out.push(required('spec.nodeAffinity', 'Local volume requires node affinity'));
  }
  const affinity = spec['nodeAffinity'];
  if (isRecord(affinity)) {
    const requiredTerms = affinity['required'];
    if (!isRecord(requiredTerms)) {
      out.push(required('spec.nodeAffinity.required', 'must specify required node constraints'));
    } else {
      const terms = asArray(requiredTerms['nodeSelectorTerms']);
      const path = 'spec.nodeAffinity.required.nodeSelectorTerms';
      if (terms.length === 0) out.push(required(path, 'must have at least one node selector term'));
      terms.forEach((t, i) => out.push(...validateNodeSelectorTerm(t, index(path, i))));
    }
  }

  if (old) {
    const before = specOf(old);
    const sourceView = (s: Obj): unknown => Object.fromEntries(PV_SOURCES.map((n) => [n, s[n] ?? null]));
    if (!deepEqual(sourceView(before), sourceView(spec))) {
      out.push(forbidden('spec.persistentvolumesource', 'spec.persistentvolumesource is immutable after creation'));
    }
    if (!deepEqual(before['volumeMode'], spec['volumeMode'])) out.push(invalid('volumeMode', spec['volumeMode'] ?? null, IMMUTABLE));
    if (before['nodeAffinity'] !== undefined && !deepEqual(before['nodeAffinity'], spec['nodeAffinity'])) {
      out.push(invalid('nodeAffinity', new GoText('&core.VolumeNodeAffinity{...}'), IMMUTABLE));
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------ PersistentVolumeClaim

/** The claim spec rules, shared by claims and StatefulSet volumeClaimTemplates. */
export function validatePersistentVolumeClaimSpec(spec: Obj, path: string): StatusCause[] {
  const out: StatusCause[] = [];
  out.push(...validateAccessModes(spec['accessModes'], child(path, 'accessModes'), 'at least 1 access mode is required'));
  if (spec['selector'] !== undefined && spec['selector'] !== null) out.push(...validateLabelSelector(spec['selector'], child(path, 'selector')));
  const resources = isRecord(spec['resources']) ? spec['resources'] : {};
  const requests = isRecord(resources['requests']) ? resources['requests'] : {};
  const storagePath = key(child(path, 'resources'), 'storage');
  if (requests['storage'] === undefined || requests['storage'] === null) out.push(required(storagePath));
  else out.push(...validateStorageQuantity(requests['storage'], storagePath, true));
  out.push(...validateClassName(spec['storageClassName'], child(path, 'storageClassName')));
  out.push(...validateVolumeMode(spec['volumeMode'], child(path, 'volumeMode')));
  return out;
}

export function validatePersistentVolumeClaim(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const spec = specOf(obj);
  const out = validatePersistentVolumeClaimSpec(spec, 'spec');
  if (old) {
    const before = specOf(old);
    // The binder may fill in volumeName once; everything else stays as created.
    const view = (s: Obj, fillVolumeName: boolean): Obj => {
      const copy: Obj = { ...s };
      if (fillVolumeName) delete copy['volumeName'];
      return copy;
    };
    const fill = asString(before['volumeName']) === '';
    const requestsOf = (s: Obj): unknown => (isRecord(s['resources']) ? s['resources']['requests'] : undefined);
    if (!deepEqual(requestsOf(before), requestsOf(spec))) {
      out.push(forbidden('spec.resources.requests.storage', 'only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize'));
    } else if (!deepEqual(view(before, fill), view(spec, fill))) {
      out.push(forbidden('spec', 'spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims'));
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------ StorageClass

export function validateStorageClass(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const sc = obj as Obj;
  const out: StatusCause[] = [];
  const provisioner = asString(sc['provisioner']);
  if (provisioner === '') out.push(required('provisioner', provisioner));
  else out.push(...eachInvalid('provisioner', provisioner, isQualifiedName(provisioner.toLowerCase())));
  const parameters = isRecord(sc['parameters']) ? sc['parameters'] : {};
  if (Object.keys(parameters).length > 512) out.push(invalid('parameters', new GoText('map[string]string{...}'), 'must not have more than 512 parameters'));
  for (const k of Object.keys(parameters)) if (k === '') out.push(invalid('parameters', k, 'key name must not be empty'));
  const policy = sc['reclaimPolicy'];
  if (policy !== undefined && policy !== null && !SC_RECLAIM_POLICIES.includes(asString(policy))) {
    out.push(notSupported('reclaimPolicy', policy, SC_RECLAIM_POLICIES));
  }
  const mode = sc['volumeBindingMode'];
  if (mode === undefined || mode === null) out.push(required('volumeBindingMode'));
  else if (!BINDING_MODES.includes(asString(mode))) out.push(notSupported('volumeBindingMode', mode, BINDING_MODES));
  if (old) {
    const before = old as Obj;
    if (!deepEqual(before['parameters'] ?? {}, sc['parameters'] ?? {})) out.push(forbidden('parameters', 'updates to parameters are forbidden.'));
    if (before['provisioner'] !== sc['provisioner']) out.push(forbidden('provisioner', 'updates to provisioner are forbidden.'));
    if (before['reclaimPolicy'] !== sc['reclaimPolicy']) out.push(forbidden('reclaimPolicy', 'updates to reclaimPolicy are forbidden.'));
    if (before['volumeBindingMode'] !== sc['volumeBindingMode']) out.push(invalid('volumeBindingMode', sc['volumeBindingMode'] ?? null, IMMUTABLE));
  }
  return out;
}
