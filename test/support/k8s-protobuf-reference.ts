/**
 * An encoder and decoder for Kubernetes protobuf that shares nothing with corral's codec: the message
 * definitions come from the real Kubernetes, namely the FileDescriptorProtos that every gogo-generated
 * `generated.pb.go` registers (gzipped) and that are therefore inside the kubectl v1.32 binary the
 * integration tier already runs; protobufjs's reflection encodes and decodes with them. Only the
 * mapping between Kubernetes JSON and those messages is written here (Time, Quantity, IntOrString,
 * RawExtension, embedded structs), without looking at corral's schema.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { inflateRawSync, constants as zlibConstants } from 'node:zlib';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
const descriptorExt = require('protobufjs/ext/descriptor') as { FileDescriptorProto: protobuf.Type };
const RootWithDescriptors = protobuf.Root as unknown as { fromDescriptor(set: unknown, options: { keepCase: boolean }): protobuf.Root };

const MAGIC = Buffer.from('k8s\0', 'latin1');
const META = 'k8s.io.apimachinery.pkg.apis.meta.v1';
const TIME_TYPES = new Set([`.${META}.Time`, `.${META}.MicroTime`]);
const QUANTITY = '.k8s.io.apimachinery.pkg.api.resource.Quantity';
const INT_OR_STRING = '.k8s.io.apimachinery.pkg.util.intstr.IntOrString';
const RAW_TYPES = new Set(['.k8s.io.apimachinery.pkg.runtime.RawExtension', `.${META}.FieldsV1`]);

type Json = Record<string, unknown>;

/** The k8s.io FileDescriptorProtos embedded in a Go binary, one per protobuf package. */
function descriptorsIn(binaryPath: string): unknown[] {
  const binary = readFileSync(binaryPath);
  const files = new Map<string, { name?: string; package?: string }>();
  const header = Buffer.from([0x1f, 0x8b, 0x08, 0x00]); // gzip, deflate, no optional header fields
  for (let at = binary.indexOf(header); at >= 0; at = binary.indexOf(header, at + 1)) {
    let inflated: Buffer;
    try {
      // Raw inflate after the 10-byte header stops at the end of this member (gunzip would run on into the next).
      inflated = inflateRawSync(binary.subarray(at + 10, at + 10 + (1 << 20)), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch {
      continue;
    }
    let file: { name?: string; package?: string };
    try {
      file = descriptorExt.FileDescriptorProto.decode(inflated) as unknown as { name?: string; package?: string };
    } catch {
      continue;
    }
    if (!file.name?.startsWith('k8s.io/') || !file.package || files.has(file.package)) continue;
    files.set(file.package, file);
  }
  return [...files.values()];
}

export class KubeProtobufReference {
  private constructor(private readonly root: protobuf.Root) {}

  /** Loads the message definitions from a kubectl binary; throws if they are not there. */
  static fromBinary(binaryPath: string): KubeProtobufReference {
    const files = descriptorsIn(binaryPath);
    if (files.length < 20) throw new Error(`${binaryPath}: found only ${files.length} Kubernetes protobuf descriptors`);
    return new KubeProtobufReference(RootWithDescriptors.fromDescriptor({ file: files }, { keepCase: true }));
  }

  /** The message type of `kind` in `apiVersion` (`v1` → k8s.io.api.core.v1; `rbac.authorization.k8s.io/v1` → …rbac.v1). */
  type(apiVersion: string, kind: string): protobuf.Type | undefined {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') as [string, string] : ['', apiVersion];
    const pkg = kind === 'DeleteOptions' || kind === 'Status' || group === 'meta.k8s.io'
      ? META
      : `k8s.io.api.${group === '' ? 'core' : group.split('.')[0]}.${version}`;
    try {
      return this.root.lookupType(`${pkg}.${kind}`);
    } catch {
      return undefined;
    }
  }

  private mustType(apiVersion: string, kind: string): protobuf.Type {
    const t = this.type(apiVersion, kind);
    if (!t) throw new Error(`kubectl's descriptors have no ${kind} in ${apiVersion}`);
    return t;
  }

  /** A request body: `k8s\0` + runtime.Unknown{TypeMeta, raw message}. */
  encode(object: Json): Uint8Array {
    const apiVersion = String(object['apiVersion']);
    const kind = String(object['kind']);
    const type = this.mustType(apiVersion, kind);
    const raw = type.encode(type.fromObject(toProtoShape(object, type))).finish();
    const unknown = this.root.lookupType('k8s.io.apimachinery.pkg.runtime.Unknown');
    const envelope = unknown.encode(unknown.fromObject({ typeMeta: { apiVersion, kind }, raw, contentEncoding: '', contentType: '' })).finish();
    return Buffer.concat([MAGIC, envelope]);
  }

  /** A response body in protobuf, as plain proto-shaped data with its TypeMeta. */
  decode(body: Uint8Array): { apiVersion: string; kind: string; message: Json } {
    const bytes = Buffer.from(body);
    if (!bytes.subarray(0, 4).equals(MAGIC)) throw new Error(`not a Kubernetes protobuf body: ${bytes.subarray(0, 16).toString('hex')}`);
    const unknown = this.root.lookupType('k8s.io.apimachinery.pkg.runtime.Unknown');
    const envelope = unknown.toObject(unknown.decode(bytes.subarray(4))) as { typeMeta?: { apiVersion?: string; kind?: string }; raw?: Uint8Array };
    const apiVersion = envelope.typeMeta?.apiVersion ?? '';
    const kind = envelope.typeMeta?.kind ?? '';
    const type = this.mustType(apiVersion, kind);
    return { apiVersion, kind, message: canonical(type, type.decode(envelope.raw ?? new Uint8Array(0))) };
  }

  /** The same canonical proto-shaped data for a JSON object, to compare a protobuf answer with a JSON one. */
  canonicalOf(object: Json, apiVersion = String(object['apiVersion']), kind = String(object['kind'])): Json {
    const type = this.mustType(apiVersion, kind);
    return canonical(type, type.fromObject(toProtoShape(object, type)));
  }

  /** Splits a protobuf watch body into its events: 4-byte big-endian length, then a bare WatchEvent. */
  decodeWatchFrames(body: Uint8Array): { type: string; object: ReturnType<KubeProtobufReference['decode']> }[] {
    const bytes = Buffer.from(body);
    const watchEvent = this.root.lookupType(`${META}.WatchEvent`);
    const out: { type: string; object: ReturnType<KubeProtobufReference['decode']> }[] = [];
    for (let at = 0; at + 4 <= bytes.length;) {
      const length = bytes.readUInt32BE(at);
      const event = watchEvent.toObject(watchEvent.decode(bytes.subarray(at + 4, at + 4 + length))) as { type?: string; object?: { raw?: Uint8Array } };
      out.push({ type: event.type ?? '', object: this.decode(event.object?.raw ?? new Uint8Array(0)) });
      at += 4 + length;
    }
    return out;
  }
}

function canonical(type: protobuf.Type, message: protobuf.Message): Json {
  return type.toObject(message, { longs: Number, bytes: String, defaults: false }) as Json;
}

/** Kubernetes JSON → the plain object protobufjs's fromObject takes for `type`. */
function toProtoShape(json: Json, type: protobuf.Type): Json {
  const out: Json = {};
  for (const field of type.fieldsArray) {
    field.resolve();
    const value = json[field.name] ?? json[jsonNameOf(field.name, json)];
    const nested = field.resolvedType;
    if (!(nested instanceof protobuf.Type)) {
      if (value !== undefined && value !== null) out[field.name] = value;
      continue;
    }
    if (value === undefined || value === null) {
      // An embedded Go struct (`json:",inline"`): its fields sit in this object.
      if (!field.repeated && !field.map && isEmbedded(json, type, nested)) out[field.name] = toProtoShape(json, nested);
      continue;
    }
    if (field.map) {
      out[field.name] = Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, valueShape(v, nested)]));
    } else if (field.repeated) {
      out[field.name] = (value as unknown[]).map((v) => valueShape(v, nested));
    } else {
      out[field.name] = valueShape(value, nested);
    }
  }
  return out;
}

/** A few protobuf names differ from the JSON name by case only (`Webhooks`, `uID`, `aPIGroup`). */
function jsonNameOf(protoName: string, json: Json): string {
  return Object.keys(json).find((k) => k.toLowerCase() === protoName.toLowerCase()) ?? protoName;
}

function isEmbedded(json: Json, parent: protobuf.Type, nested: protobuf.Type): boolean {
  // apiVersion and kind are TypeMeta, which the protobuf envelope carries instead of the message.
  return Object.keys(json).some((k) => k !== 'apiVersion' && k !== 'kind' && parent.fields[k] === undefined && nested.fields[k] !== undefined);
}

function valueShape(value: unknown, type: protobuf.Type): unknown {
  if (TIME_TYPES.has(type.fullName)) {
    const text = String(value);
    const fraction = /\.(\d+)Z$/.exec(text)?.[1] ?? '';
    return { seconds: Math.floor(Date.parse(text) / 1000), nanos: Number(fraction.padEnd(9, '0')) };
  }
  if (type.fullName === QUANTITY) return { string: String(value) };
  if (type.fullName === INT_OR_STRING) return typeof value === 'number' ? { type: 0, intVal: value } : { type: 1, strVal: String(value) };
  if (RAW_TYPES.has(type.fullName)) return { raw: Buffer.from(JSON.stringify(value)) };
  // A Go named slice (authentication's ExtraValue) is a message with one repeated field.
  if (Array.isArray(value)) return { [type.fieldsArray[0]!.name]: value };
  return toProtoShape(value as Json, type);
}
