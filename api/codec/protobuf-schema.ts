/**
 * The schema language the protobuf codec is driven by: one description per message, grouped by the
 * API package (group/version) it belongs to. Kubernetes generates its protobuf from Go structs with
 * gogo-protobuf, so a message is a list of fields, each written as
 *
 *     <number> <jsonName> <modifiers><type>
 *
 * separated by `;`, e.g. `1 replicas *int32; 2 selector meta.LabelSelector; 3 template core.PodTemplateSpec`.
 *
 * - number: the protobuf field number (generated.proto in k8s.io/api or k8s.io/apimachinery);
 * - jsonName: the Go field's JSON name (for an embedded struct, its protobuf name: it is inlined anyway);
 * - modifiers, in this order:
 *   `^` an embedded Go struct whose JSON fields sit in the parent object (`json:",inline"`);
 *   `*` a zero scalar on the wire is kept: pointer fields (`*int32`, `*bool`: on the wire only when set)
 *       and fields whose JSON tag has no `omitempty`. gogo writes every non-pointer scalar, even "" / 0 /
 *       false, while encoding/json drops them for `omitempty` fields, so without `*` a zero is dropped.
 *       Messages, IntOrString and Quantity are kept whenever present (`maxUnavailable: 0` is a pointer);
 *   `[]` repeated (a JSON list), `{}` map<string, type> (a JSON object);
 * - type: `string`, `bytes` (JSON base64), `int32`, `int64`, `bool`; the apimachinery value types `Time`
 *   (RFC 3339 seconds), `MicroTime` (RFC 3339 microseconds), `Quantity` ("500m"), `IntOrString`,
 *   `RawJSON` (runtime.RawExtension / FieldsV1: raw JSON bytes on the wire, an embedded value in JSON);
 *   or a message: `Name` in the same package, `alias.Name` in another (`meta.ObjectMeta`, `core.PodSpec`).
 *
 * A message written `= 1 items []string` is a Go named slice (authentication's ExtraValue): protobuf
 * wraps it in a message, JSON prints the bare list.
 *
 * Adding a kind: add its message (and its `<Kind>List`, and any message it uses that is not there yet)
 * to the package's file in ./schema/, reading the numbers from generated.proto and the pointers /
 * omitempty from types.go; a new group/version gets a new file there and a line in ./schema/index.ts.
 * Nothing else changes: the codec serves every kind the API server serves that has a message here.
 */

export type ScalarType = 'string' | 'bytes' | 'int32' | 'int64' | 'bool';
export type ValueType = ScalarType | 'Time' | 'MicroTime' | 'Quantity' | 'IntOrString' | 'RawJSON';
const VALUE_TYPES: ReadonlySet<string> = new Set(['string', 'bytes', 'int32', 'int64', 'bool', 'Time', 'MicroTime', 'Quantity', 'IntOrString', 'RawJSON']);

export interface FieldSchema {
  readonly number: number;
  readonly name: string;
  /** A value type, or a message resolved lazily (messages refer to each other in cycles: JSONSchemaProps). */
  readonly type: ValueType | { readonly message: () => MessageSchema };
  readonly shape: 'single' | 'repeated' | 'map';
  readonly keepZero: boolean;
  readonly inline: boolean;
}

export interface MessageSchema {
  /** `apps/v1.Deployment`: how errors name it. */
  readonly name: string;
  readonly byNumber: ReadonlyMap<number, FieldSchema>;
  readonly fields: readonly FieldSchema[];
  /** A wrapped Go named slice: JSON is the value of its one field. */
  readonly unwrap: boolean;
}

export interface PackageSchema {
  readonly apiVersion: string;
  readonly alias: string;
  readonly sources: Readonly<Record<string, string>>;
}

/** Declares a package's messages; compiled on first use by SchemaRegistry. */
export function definePackage(apiVersion: string, alias: string, messages: Record<string, string>): PackageSchema {
  return { apiVersion, alias, sources: messages };
}

/** Every package's messages, compiled once, looked up by apiVersion and message name. */
export class SchemaRegistry {
  private readonly byAlias = new Map<string, PackageSchema>();
  private readonly byApiVersion = new Map<string, PackageSchema>();
  private readonly compiled = new Map<string, MessageSchema>();

  constructor(packages: readonly PackageSchema[]) {
    for (const p of packages) {
      this.byAlias.set(p.alias, p);
      this.byApiVersion.set(p.apiVersion, p);
    }
    // Compile everything up front so a typo in a table fails at start-up (and in the unit tests).
    for (const p of packages) for (const name of Object.keys(p.sources)) this.compile(p, name);
  }

  /** The message of `kind` in the package of `apiVersion`, if that package describes it. */
  message(apiVersion: string, kind: string): MessageSchema | undefined {
    const p = this.byApiVersion.get(apiVersion);
    return p && Object.hasOwn(p.sources, kind) ? this.compile(p, kind) : undefined;
  }

  /** A message by `alias.Name`, e.g. `meta.DeleteOptions`. */
  qualified(ref: string): MessageSchema {
    const [alias, name] = ref.split('.') as [string, string];
    const p = this.byAlias.get(alias);
    if (!p || !Object.hasOwn(p.sources, name)) throw new Error(`protobuf schema: no message ${ref}`);
    return this.compile(p, name);
  }

  /** Every message, by package: for tests that hold the tables against Kubernetes' own descriptors. */
  *messages(): Generator<{ apiVersion: string; alias: string; name: string; schema: MessageSchema }> {
    for (const p of this.byApiVersion.values()) {
      for (const name of Object.keys(p.sources)) yield { apiVersion: p.apiVersion, alias: p.alias, name, schema: this.compile(p, name) };
    }
  }

  private compile(p: PackageSchema, name: string): MessageSchema {
    const key = `${p.apiVersion}.${name}`;
    const done = this.compiled.get(key);
    if (done) return done;
    let source = p.sources[name]!;
    const unwrap = source.startsWith('=');
    if (unwrap) source = source.slice(1);
    const fields = source.split(';').map((s) => s.trim()).filter((s) => s !== '').map((s) => this.field(p, key, s));
    const byNumber = new Map<number, FieldSchema>();
    for (const f of fields) {
      if (byNumber.has(f.number)) throw new Error(`protobuf schema ${key}: field number ${f.number} twice`);
      byNumber.set(f.number, f);
    }
    if (unwrap && fields.length !== 1) throw new Error(`protobuf schema ${key}: a wrapped list has exactly one field`);
    const message: MessageSchema = { name: key, byNumber, fields, unwrap };
    this.compiled.set(key, message);
    return message;
  }

  private field(p: PackageSchema, owner: string, text: string): FieldSchema {
    const m = /^(\d+)\s+(\w+)\s+(\^?)(\*?)(\[\]|\{\})?([\w.]+)$/.exec(text);
    if (!m) throw new Error(`protobuf schema ${owner}: cannot read field "${text}"`);
    const [, number, name, inline, keep, shape, typeName] = m as unknown as [string, string, string, string, string, string | undefined, string];
    let type: FieldSchema['type'];
    if (VALUE_TYPES.has(typeName)) {
      type = typeName as ValueType;
    } else {
      const ref = typeName.includes('.') ? typeName : `${p.alias}.${typeName}`;
      const [alias, msg] = ref.split('.') as [string, string];
      const target = this.byAlias.get(alias);
      if (!target || !Object.hasOwn(target.sources, msg)) throw new Error(`protobuf schema ${owner}.${name}: no message ${ref}`);
      type = { message: () => this.compile(target, msg) };
    }
    return {
      number: Number(number), name, type,
      shape: shape === '[]' ? 'repeated' : shape === '{}' ? 'map' : 'single',
      keepZero: keep === '*',
      inline: inline === '^',
    };
  }
}

export function isMessageType(type: FieldSchema['type']): type is { readonly message: () => MessageSchema } {
  return typeof type === 'object';
}
