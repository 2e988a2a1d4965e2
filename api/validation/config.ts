/**
 * ConfigMap and Secret validation: key syntax, the 1 MiB size limit, base64 payloads, the per-type
 * required keys of Secrets, and immutability once `immutable: true` is set.
 */
import type { KubeObject } from '../meta.js';
import type { StatusCause } from '../status.js';
import { deepEqual } from '../object-util.js';
import { asString, eachInvalid, forbidden, invalid, isRecord, key, required, tooLong } from './field.js';
import { byteLength, isConfigMapKey } from './names.js';

/** core.MaxSecretSize: the data of a ConfigMap or Secret may not exceed 1 MiB. */
export const MAX_CONFIG_SIZE = 1024 * 1024;
const IMMUTABLE_WHEN_SET = 'field is immutable when `immutable` is set';

/**
 * Decodes standard base64 the way Go's encoding/json does for []byte fields, or returns the
 * offset of the first bad byte (Go: "illegal base64 data at input byte N").
 */
export function decodeBase64(text: string): { bytes: Buffer } | { badByte: number } {
  const clean = text.replace(/[\r\n]/g, '');
  const bad = /[^A-Za-z0-9+/=]/.exec(clean);
  if (bad) return { badByte: bad.index };
  const firstPad = clean.indexOf('=');
  if (firstPad >= 0 && (/[^=]/.test(clean.slice(firstPad)) || clean.length - firstPad > 2)) return { badByte: firstPad };
  if (clean.length % 4 !== 0) {
    // Go reports the offset where the incomplete quantum starts.
    return { badByte: clean.length - (clean.length % 4) };
  }
  return { bytes: Buffer.from(clean, 'base64') };
}

function stringMap(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

export function validateConfigMap(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const data = stringMap(obj['data']);
  const binary = stringMap(obj['binaryData']);
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    out.push(...eachInvalid(key('data', k), k, isConfigMapKey(k)));
    if (k in binary) out.push(invalid(key('data', k), k, 'duplicate of key present in binaryData'));
    if (typeof v !== 'string') out.push(invalid(key('data', k), String(v), 'must be a string'));
    else total += byteLength(v);
  }
  for (const [k, v] of Object.entries(binary)) {
    out.push(...eachInvalid(key('binaryData', k), k, isConfigMapKey(k)));
    if (k in data) out.push(invalid(key('binaryData', k), k, 'duplicate of key present in data'));
    const decoded = decodeBase64(asString(v));
    if ('badByte' in decoded) out.push(invalid(key('binaryData', k), k, `illegal base64 data at input byte ${decoded.badByte}`));
    else total += decoded.bytes.length;
  }
  if (total > MAX_CONFIG_SIZE) out.push(tooLong('', MAX_CONFIG_SIZE));
  if (old && old['immutable'] === true) {
    if (obj['immutable'] !== true) out.push(forbidden('immutable', IMMUTABLE_WHEN_SET));
    if (!deepEqual(old['data'] ?? {}, obj['data'] ?? {})) out.push(forbidden('data', IMMUTABLE_WHEN_SET));
    if (!deepEqual(old['binaryData'] ?? {}, obj['binaryData'] ?? {})) out.push(forbidden('binaryData', IMMUTABLE_WHEN_SET));
  }
  return out;
}

/** Keys that each well-known Secret type must carry. */
function validateSecretType(obj: KubeObject, data: Record<string, Buffer>): StatusCause[] {
  const out: StatusCause[] = [];
  const type = asString(obj['type']);
  switch (type) {
    case 'kubernetes.io/service-account-token':
      if (asString(obj.metadata.annotations?.['kubernetes.io/service-account.name']) === '') {
        out.push(required(key('metadata.annotations', 'kubernetes.io/service-account.name')));
      }
      break;
    case 'kubernetes.io/dockercfg':
    case 'kubernetes.io/dockerconfigjson': {
      const k = type === 'kubernetes.io/dockercfg' ? '.dockercfg' : '.dockerconfigjson';
      const bytes = data[k];
      if (bytes === undefined) {
        out.push(required(key('data', k)));
      } else {
        try {
          JSON.parse(bytes.toString('utf8'));
        } catch (err) {
          out.push(invalid(key('data', k), '<secret contents redacted>', (err as Error).message));
        }
      }
      break;
    }
    case 'kubernetes.io/basic-auth':
      if (data['username'] === undefined && data['password'] === undefined) {
        out.push(required(key('data', 'username')), required(key('data', 'password')));
      }
      break;
    case 'kubernetes.io/ssh-auth':
      if ((data['ssh-privatekey']?.length ?? 0) === 0) out.push(required(key('data', 'ssh-privatekey')));
      break;
    case 'kubernetes.io/tls':
      if (data['tls.key'] === undefined) out.push(required(key('data', 'tls.key')));
      if (data['tls.crt'] === undefined) out.push(required(key('data', 'tls.crt')));
      break;
    default:
      break;
  }
  return out;
}

export function validateSecret(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const decoded: Record<string, Buffer> = {};
  let total = 0;
  for (const [k, v] of Object.entries(stringMap(obj['data']))) {
    out.push(...eachInvalid(key('data', k), k, isConfigMapKey(k)));
    const result = decodeBase64(asString(v));
    if ('badByte' in result) {
      // Kubernetes fails this while decoding the request; the value itself is not echoed back.
      out.push(invalid(key('data', k), k, `illegal base64 data at input byte ${result.badByte}`));
      continue;
    }
    decoded[k] = result.bytes;
    total += result.bytes.length;
  }
  for (const k of Object.keys(stringMap(obj['stringData']))) {
    out.push(...eachInvalid(key('stringData', k), k, isConfigMapKey(k)));
  }
  if (total > MAX_CONFIG_SIZE) out.push(tooLong('data', MAX_CONFIG_SIZE));
  out.push(...validateSecretType(obj, decoded));
  if (old) {
    if (asString(old['type']) !== asString(obj['type'])) out.push(invalid('type', asString(obj['type']), 'field is immutable'));
    if (old['immutable'] === true) {
      if (obj['immutable'] !== true) out.push(forbidden('immutable', IMMUTABLE_WHEN_SET));
      if (!deepEqual(old['data'] ?? {}, obj['data'] ?? {})) out.push(forbidden('data', IMMUTABLE_WHEN_SET));
    }
  }
  return out;
}
