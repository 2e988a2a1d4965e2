/**
 * The fuzz tier's kit: a seeded PRNG (every run prints its seed; CORRAL_FUZZ_SEED replays it), a
 * bounded count (CORRAL_FUZZ_COUNT), generators of hostile request parts (paths, queries, headers,
 * bodies, Kubernetes objects), a raw HTTPS client that sends bytes exactly as generated (fetch and
 * node:https normalise or refuse much of what an attacker can put on the wire), and the checks
 * every fuzz file ends with (process alive, RSS bound, stored objects valid).
 */
import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { RESOURCES, type ResourceInfo } from '../../api/resources.js';

/** sfc32: small, fast, good enough statistically, and identical on every platform. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 0x1_0000_0000;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  /** A derived generator, so one case's draws do not shift every later case. */
  fork(): Rng {
    return new Rng(this.nextU32());
  }
}

/** The run's seed: CORRAL_FUZZ_SEED, or a fresh one; printed so a failure can be replayed. */
export function fuzzSeed(name: string): number {
  const given = process.env['CORRAL_FUZZ_SEED'];
  const seed = given !== undefined && given !== '' ? Number(given) >>> 0 : Math.floor(Math.random() * 0x1_0000_0000);
  process.stdout.write(`fuzz ${name}: seed ${seed} (replay with CORRAL_FUZZ_SEED=${seed})\n`);
  return seed;
}

/** How many cases to run: CORRAL_FUZZ_COUNT, else the file's default (sized for CI). */
export function fuzzCount(defaultCount: number): number {
  const n = Number(process.env['CORRAL_FUZZ_COUNT'] ?? '');
  return Number.isInteger(n) && n > 0 ? n : defaultCount;
}

// ---------------------------------------------------------------- text pieces

const NASTY_TEXT = [
  '', ' ', '.', '..', '...', '%', '%Z', '%ZZ', '%zz%', '%%', '%2', '%2F', '%2f..', '%00', '%C0%AF', '%E0%80', '%ff%fe',
  '%u0041', '\u0000', '\u00e9', '\u{1F600}', '\ud800', 'a'.repeat(300), 'A', '-', '-a-', 'a..b', 'a_b', '$(id)', '`id`',
  '\'', '"', '<script>', '{', '}', '[', ']', '\\', '//', '?', '#', ';', ',', '*', '~', 'null', 'undefined', 'NaN', '-1', '0',
  '1e309', '99999999999999999999', '0x10', 'true', 'default', 'kube-system', 'kube-public', 'kube-node-lease', 'status', 'scale',
  'exec', 'log', 'binding', 'eviction', 'finalize', 'watch', 'proxy', 'attach', 'portforward',
];

/** A string an attacker might put in a URL segment: raw, percent-encoded, or broken escapes. */
export function nastySegment(rng: Rng): string {
  switch (rng.int(6)) {
    case 0: return rng.pick(NASTY_TEXT);
    case 1: return `${rng.pick(['web', 'a', 'x-1', 'node-a', 'cm'])}${rng.pick(NASTY_TEXT)}`;
    case 2: return encodeLoosely(rng.pick(NASTY_TEXT));
    case 3: return `%${rng.bytes(1).toString('hex')}${rng.chance(0.5) ? 'Z' : ''}`;
    case 4: return Array.from({ length: rng.range(1, 12) }, () => rng.pick('abcdefghijklmnopqrstuvwxyz0123456789-.'.split(''))).join('');
    default: return rng.pick(['web', 'default', 'kube-system', 'a', 'node-1']);
  }
}

/** encodeURIComponent that does not throw on lone surrogates (they become U+FFFD). */
export function encodeLoosely(text: string): string {
  return encodeURIComponent(text.replace(/[\ud800-\udfff]/g, '\ufffd'));
}

/** A byte-level-safe request target (no spaces, CR or LF: those end the request line). */
export function wireSafe(target: string): string {
  return target.replace(/[\s\u0000-\u001f\u007f]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(/[^\u0000-\u007f]/g, (c) => encodeLoosely(c));
}

function resourceBase(info: ResourceInfo): string {
  return info.group === '' ? `/api/${info.version}` : `/apis/${info.group}/${info.version}`;
}

/** A path near the API's real shape: known kinds, namespaces, names and subresources, with corruptions. */
export function apiPath(rng: Rng): string {
  if (rng.chance(0.08)) {
    return rng.pick(['/', '/api', '/apis', '/api/v1', '/apis/apps/v1', '/version', '/healthz', '/readyz', '/openapi/v3',
      '/openapi/v3/api/v1', '/openapi/v2', '/metrics', '/cacerts', '/install.sh', '/join/node-token', '/bundle/x', '/ui', '/%ZZ']);
  }
  const info = rng.pick(RESOURCES);
  const parts: string[] = [resourceBase(info)];
  if (rng.chance(0.1)) parts.push('watch');
  if (info.namespaced && rng.chance(0.8)) parts.push('namespaces', rng.chance(0.7) ? rng.pick(['default', 'kube-system', 'fuzz']) : nastySegment(rng));
  parts.push(rng.chance(0.9) ? info.plural : nastySegment(rng));
  if (rng.chance(0.6)) {
    parts.push(rng.chance(0.6) ? rng.pick(['web', 'fuzz-a', 'fuzz-b', 'kubernetes']) : nastySegment(rng));
    if (rng.chance(0.3)) {
      const subs = [...info.subresources.map((s) => s.name), 'status', 'exec', 'log', 'proxy', 'binding', 'eviction', nastySegment(rng)];
      parts.push(rng.pick(subs));
    }
    if (rng.chance(0.03)) parts.push(nastySegment(rng));
  }
  let path = parts.join('/');
  if (rng.chance(0.05)) path = path.replace(/\//g, rng.pick(['//', '/./', '/%2F']));
  if (rng.chance(0.03)) path += '/';
  return path;
}

const QUERY_KEYS = ['limit', 'continue', 'resourceVersion', 'resourceVersionMatch', 'labelSelector', 'fieldSelector', 'watch',
  'timeoutSeconds', 'allowWatchBookmarks', 'sendInitialEvents', 'dryRun', 'fieldManager', 'fieldValidation', 'force', 'pretty',
  'propagationPolicy', 'gracePeriodSeconds', 'orphanDependents', 'includeObject', 'container', 'follow', 'tailLines', 'limitBytes',
  'previous', 'timestamps', 'sinceSeconds', 'sinceTime', 'command', 'stdin', 'stdout', 'stderr', 'tty', 'as', 'node'];

const QUERY_VALUES = ['', '0', '1', '-1', '500', 'true', 'false', 'All', 'Strict', 'Ignore', 'Warn', 'NotOlderThan', 'Exact',
  '99999999999999999999', '9007199254740993', '1e3', '1.5', '0x10', 'NaN', 'Infinity', '%ZZ', '%', 'a=b', 'a!=b', 'a in (b,c)',
  'a in (', '!!', 'metadata.name=web', 'spec.nodeName=', 'status.phase!=Running', 'x=', '=x', ',', 'Foreground', 'Orphan',
  'Background', '2026-01-01T00:00:00Z', 'yesterday', 'eyJydiI6MX0', 'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6LTEsInN0YXJ0IjoiXHUwMDAwIn0',
  'sh', '-c', 'a'.repeat(2000)];

/** A query string: real parameters with absurd values, duplicates and broken escapes. */
export function apiQuery(rng: Rng): string {
  if (rng.chance(0.25)) return '';
  const n = rng.range(1, 4);
  const pairs: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = rng.chance(0.9) ? rng.pick(QUERY_KEYS) : nastySegment(rng);
    const value = rng.chance(0.8) ? rng.pick(QUERY_VALUES) : nastySegment(rng);
    pairs.push(rng.chance(0.7) ? `${encodeLoosely(key)}=${encodeLoosely(value)}` : `${key}=${value}`);
  }
  return `?${pairs.join('&')}`;
}

const CONTENT_TYPES = ['application/json', 'application/merge-patch+json', 'application/strategic-merge-patch+json',
  'application/json-patch+json', 'application/apply-patch+yaml', 'application/yaml', 'application/vnd.kubernetes.protobuf',
  'text/plain', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', '', ';;;', 'application/json;;'];

const ACCEPTS = ['application/json', 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList', 'application/vnd.kubernetes.protobuf', '*/*',
  'text/html', 'application/json;as=Table;v=v1beta1;g=meta.k8s.io', 'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io',
  ';;', 'application/json;q=abc'];

/** Hosts that a URL parser may refuse; an upgrade builds a URL from Host. */
export const BAD_HOSTS = ['[', '[::1', 'a b', '%zz', 'host:99999', 'host:-1', ':::', 'a@b', 'exa mple.com', '[fe80::1%25zz]', '..', ''];

/** Extra request headers: content types, accepts, Host, upgrade-ish and junk headers. */
export function apiHeaders(rng: Rng): Record<string, string> {
  const h: Record<string, string> = {};
  if (rng.chance(0.7)) h['content-type'] = rng.pick(CONTENT_TYPES);
  if (rng.chance(0.4)) h['accept'] = rng.pick(ACCEPTS);
  if (rng.chance(0.1)) h['host'] = rng.pick(BAD_HOSTS);
  if (rng.chance(0.1)) h['user-agent'] = rng.pick(['kubectl/v1.32.0 (linux/amd64) kubernetes/abc', '', '\u00ff', 'x'.repeat(3000)]);
  if (rng.chance(0.05)) h['content-encoding'] = rng.pick(['gzip', 'br', 'identity', 'x']);
  if (rng.chance(0.05)) h['x-fuzz'] = nastySegment(rng).replace(/[^\x21-\x7e]/g, '');
  if (rng.chance(0.05)) Object.assign(h, { connection: 'Upgrade', upgrade: rng.pick(['websocket', 'SPDY/3.1', 'h2c', 'x']) });
  return h;
}

// ---------------------------------------------------------------- bodies

/** A random JSON value of bounded size and depth. */
export function jsonValue(rng: Rng, depth = 0): unknown {
  const k = rng.int(depth > 3 ? 6 : 9);
  switch (k) {
    case 0: return null;
    case 1: return rng.chance(0.5);
    case 2: return rng.pick([0, -1, 1, 1.5, 65536, 2 ** 31, 2 ** 53 + 2, -(2 ** 63), 1e308, 3]);
    case 3: return rng.pick(NASTY_TEXT);
    case 4: return rng.pick(['10.42.0.5', '::1', '999.1.1.1', '0.0.0.0', '10.42.0.0/24', '500m', '128Mi', '-1Gi', '1e9999', 'TCP', 'UDP', 'Always']);
    case 5: return nastySegment(rng);
    case 6: return Array.from({ length: rng.int(4) }, () => jsonValue(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(5); i > 0; i--) o[rng.pick(OBJECT_KEYS)] = jsonValue(rng, depth + 1);
      return o;
    }
  }
}

const OBJECT_KEYS = ['metadata', 'spec', 'status', 'name', 'namespace', 'labels', 'annotations', 'data', 'stringData', 'containers',
  'image', 'ports', 'podIP', 'podIPs', 'hostIP', 'nodeName', 'replicas', 'selector', 'template', 'finalizers', 'ownerReferences',
  'resourceVersion', 'uid', 'generateName', 'deletionTimestamp', 'type', 'clusterIP', 'nodePort', 'port', 'targetPort', 'addresses',
  'subsets', 'conditions', 'capacity', 'allocatable', 'podCIDR', 'taints', 'kind', 'apiVersion', 'op', 'path', 'value', '$patch',
  '$setElementOrder/containers', '$retainKeys', '__proto__', 'constructor'];

/** A minimal valid object of a kind (the seed the mutators start from). */
export function validObject(info: ResourceInfo, name: string, namespace: string | undefined): Record<string, unknown> {
  const apiVersion = info.group === '' ? info.version : `${info.group}/${info.version}`;
  const metadata: Record<string, unknown> = { name, ...(info.namespaced && namespace !== undefined ? { namespace } : {}), labels: { app: 'fuzz' } };
  const podSpec = { containers: [{ name: 'c', image: 'busybox:1.36', command: ['sleep', '3600'] }] };
  const template = { metadata: { labels: { app: 'fuzz' } }, spec: podSpec };
  const selector = { matchLabels: { app: 'fuzz' } };
  const specs: Record<string, Record<string, unknown>> = {
    Pod: { spec: podSpec },
    Service: { spec: { selector: { app: 'fuzz' }, ports: [{ port: 80 }] } },
    ConfigMap: { data: { k: 'v' } },
    Secret: { type: 'Opaque', data: { k: 'dg==' } },
    Deployment: { spec: { replicas: 0, selector, template } },
    ReplicaSet: { spec: { replicas: 0, selector, template } },
    DaemonSet: { spec: { selector, template } },
    ReplicationController: { spec: { replicas: 0, selector: { app: 'fuzz' }, template } },
    Job: { spec: { suspend: true, template: { ...template, spec: { ...podSpec, restartPolicy: 'Never' } } } },
    CronJob: { spec: { schedule: '*/5 * * * *', suspend: true, jobTemplate: { spec: { template: { ...template, spec: { ...podSpec, restartPolicy: 'Never' } } } } } },
    Lease: { spec: { holderIdentity: 'fuzz', leaseDurationSeconds: 40 } },
    Endpoints: { subsets: [{ addresses: [{ ip: '10.42.0.9' }], ports: [{ port: 80 }] }] },
    Event: { involvedObject: { kind: 'Pod', name: 'web', namespace: namespace ?? 'default' }, reason: 'Fuzz', message: 'x', type: 'Normal' },
    PodDisruptionBudget: { spec: { minAvailable: 1, selector } },
  };
  return { apiVersion, kind: info.kind, metadata, ...(specs[info.kind] ?? {}) };
}

/** Sets, replaces or deletes a random leaf of `value` (in place); returns the changed value. */
export function mutate(rng: Rng, value: unknown): unknown {
  if (value === null || typeof value !== 'object') return jsonValue(rng);
  const container = value as Record<string, unknown>;
  const keys = Object.keys(container);
  if (keys.length === 0 || rng.chance(0.25)) {
    container[rng.pick(OBJECT_KEYS)] = jsonValue(rng);
    return value;
  }
  const key = rng.pick(keys);
  if (rng.chance(0.15)) {
    delete container[key];
  } else if (rng.chance(0.5) && container[key] !== null && typeof container[key] === 'object') {
    mutate(rng, container[key]);
  } else {
    container[key] = jsonValue(rng);
  }
  return value;
}

/** A request body: mutated valid objects, patches, random JSON, YAML, or raw bytes. */
export function apiBody(rng: Rng, info: ResourceInfo, name: string, namespace: string | undefined): Buffer {
  switch (rng.int(8)) {
    case 0: return Buffer.from(JSON.stringify(validObject(info, name, namespace)));
    case 1:
    case 2: {
      const obj = validObject(info, name, namespace);
      for (let i = rng.range(1, 3); i > 0; i--) mutate(rng, obj);
      return Buffer.from(JSON.stringify(obj));
    }
    case 3: return Buffer.from(JSON.stringify([{ op: rng.pick(['add', 'replace', 'remove', 'test', 'move', 'copy', 'x']), path: rng.pick(['/metadata/labels/a', '/spec', '/status/podIP', '/metadata', '', '/~2', '/data/k']), value: jsonValue(rng), from: '/metadata/name' }]));
    case 4: return Buffer.from(JSON.stringify(jsonValue(rng)));
    case 5: return Buffer.from(rng.pick(['a: b\n', 'a: &x [*x]\n', '!!binary ZZ\n', '{a: 1, a: 2}\n', '- [\n', 'metadata: {name: web}\nkind: Pod\n', '%YAML 9.9\n---\na: 1\n']));
    case 6: return rng.bytes(rng.int(64));
    default: return Buffer.from(rng.pick(['', '{', '{"metadata":', 'null', '[]', '"x"', '{"metadata":{"name":"%ZZ"}}', '\u0000\u0000']));
  }
}

// ---------------------------------------------------------------- the wire

export interface RawReply {
  /** 0 when the server closed or reset the connection without a status line. */
  status: number;
  head: string;
  body: Buffer;
}

export interface RawRequest {
  port: number;
  host?: string;
  method: string;
  /** The request target, sent exactly as given. */
  target: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Stop reading after this long (watches and follows never end by themselves). */
  readMs?: number;
}

/**
 * One request written byte for byte on its own TLS connection (certificate not checked: the fuzz
 * targets are local test servers). Resolves with whatever status line came back.
 */
export function rawRequest(r: RawRequest): Promise<RawReply> {
  return new Promise((resolve) => {
    const socket = connect({ host: r.host ?? '127.0.0.1', port: r.port, rejectUnauthorized: false });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      const head = (end >= 0 ? all.subarray(0, end) : all).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      const body = end >= 0 ? all.subarray(end + 4) : Buffer.alloc(0);
      resolve({ status: m ? Number(m[1]) : 0, head, body: /^transfer-encoding:\s*chunked/im.test(head) ? dechunk(body) : body });
    };
    const timer = setTimeout(finish, r.readMs ?? 3000);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (isComplete(Buffer.concat(chunks))) finish();
    });
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', finish);
    socket.once('secureConnect', () => {
      const headers = { host: `127.0.0.1:${r.port}`, connection: 'close', ...r.headers };
      if (r.body && r.body.length > 0 && headers['content-length' as keyof typeof headers] === undefined) {
        (headers as Record<string, string>)['content-length'] = String(r.body.length);
      }
      const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v.replace(/[\r\n]/g, '')}`);
      socket.write(Buffer.concat([Buffer.from(`${r.method} ${r.target} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`, 'latin1'), r.body ?? Buffer.alloc(0)]));
    });
  });
}

/** The payload of a chunked body (as much of it as arrived). */
function dechunk(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = bytes.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(bytes.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(bytes.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** True once `bytes` hold a whole response whose end is known (Content-Length, last chunk, or a 101). */
function isComplete(bytes: Buffer): boolean {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = bytes.subarray(0, end).toString('latin1');
  if (/^HTTP\/1\.[01] 101/.test(head)) return true;
  if (/^transfer-encoding:\s*chunked/im.test(head)) return bytes.subarray(-5).toString('latin1') === '0\r\n\r\n';
  const length = /^content-length:\s*(\d+)/im.exec(head);
  return length !== null && bytes.length - end - 4 >= Number(length[1]);
}

/** Resident set size of a process, in MiB (from /proc). */
export function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** Runs `cases` calls of `fn` with at most `concurrency` in flight; case i gets its own forked Rng. */
export async function runCases(rng: Rng, cases: number, concurrency: number, fn: (caseRng: Rng, index: number) => Promise<void>): Promise<void> {
  const rngs = Array.from({ length: cases }, () => rng.fork());
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases) {
      const i = next++;
      await fn(rngs[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, cases) }, worker));
}

/** A kubelet endpoint request target (`/exec/ns/pod/container?command=...`), often corrupted. */
export function kubeletTarget(rng: Rng): string {
  const kind = rng.pick(['exec', 'exec', 'containerLogs', 'attach', 'portForward', 'run', 'logs', nastySegment(rng)]);
  const segments = Array.from({ length: rng.chance(0.8) ? 3 : rng.int(6) }, () => (rng.chance(0.5) ? rng.pick(['default', 'web', 'c', 'kube-system']) : nastySegment(rng)));
  const query = rng.chance(0.5)
    ? `?${Array.from({ length: rng.range(1, 4) }, () => `${rng.pick(['command', 'stdin', 'stdout', 'stderr', 'tty', 'follow', 'tailLines', 'limitBytes', 'sinceTime', 'sinceSeconds', 'previous', nastySegment(rng)])}=${rng.chance(0.5) ? rng.pick(QUERY_VALUES) : nastySegment(rng)}`).join('&')}`
    : '';
  return wireSafe(`/${[kind, ...segments].join('/')}${query}`);
}

/** Headers of a WebSocket (or other) upgrade request, from well formed to broken. */
export function upgradeHeaders(rng: Rng): Record<string, string> {
  const h: Record<string, string> = {};
  if (rng.chance(0.9)) h['connection'] = rng.pick(['Upgrade', 'upgrade', 'keep-alive, Upgrade', 'close']);
  if (rng.chance(0.9)) h['upgrade'] = rng.pick(['websocket', 'WebSocket', 'SPDY/3.1', 'h2c', '', 'x'.repeat(100)]);
  if (rng.chance(0.8)) h['sec-websocket-version'] = rng.pick(['13', '8', '', '99999999999999999999', 'x']);
  if (rng.chance(0.8)) h['sec-websocket-key'] = rng.pick(['dGhlIHNhbXBsZSBub25jZQ==', '', 'short', 'a'.repeat(100), '%%%%']);
  if (rng.chance(0.5)) h['sec-websocket-protocol'] = rng.pick(['v5.channel.k8s.io', 'v4.channel.k8s.io', 'channel.k8s.io', ',,,', 'v5.channel.k8s.io, x', '']);
  if (rng.chance(0.1)) h['sec-websocket-extensions'] = rng.pick(['permessage-deflate', 'permessage-deflate; client_max_window_bits=99', ';;']);
  if (rng.chance(0.15)) h['host'] = rng.pick(BAD_HOSTS);
  return h;
}
