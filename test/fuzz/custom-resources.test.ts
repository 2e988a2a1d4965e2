/**
 * Fuzz: random CRD schemas and random objects against a real `corral server`. Each case makes a CRD
 * with a random structural schema (types, enums, bounds, lengths, required fields, defaults, list
 * types, int-or-string, preserve-unknown-fields, CEL rules from a pool, sometimes broken on purpose),
 * then writes random objects of its kind (created, merge-patched, applied) shaped loosely by the schema
 * and often mutated. Pass: no 5xx, the server is alive with no error-level log line, and every stored
 * object satisfies its schema by this file's own checker (independent of the server's validator) for
 * the keywords generated here.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ServerProcess } from '../support/server-process.js';
import { fuzzCount, fuzzSeed, jsonValue, mutate, Rng, runCases } from '../support/fuzz.js';
import { HttpsTransport } from '../../api/client/transport.js';
import { waitUntil } from '../support/wait.js';

type Schema = Record<string, any>;

const it = suite<{ server: ServerProcess }>('fuzz-custom-resources');

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'], env: { CORRAL_LOG_LEVEL: 'warn' } });
});

it.after(async (ctx) => {
  await ctx.server?.destroy();
});

const FIELD_NAMES = ['a', 'b', 'size', 'count', 'name', 'mode', 'items', 'port', 'x'];
const RULES = ['self.size() >= 0', 'has(self.a) || !has(self.b)', 'self == oldSelf', 'self.count <= 10', 'self.all(x, x != "")', '1 +', 'self.name.startsWith("n")'];

function scalarSchema(rng: Rng): Schema {
  switch (rng.int(5)) {
    case 0: {
      const s: Schema = { type: 'string' };
      if (rng.chance(0.3)) s['enum'] = ['x', 'y', 'n1'];
      if (rng.chance(0.3)) s['maxLength'] = rng.int(6);
      if (rng.chance(0.2)) s['minLength'] = rng.int(3);
      if (rng.chance(0.2)) s['pattern'] = rng.pick(['^[a-z]+$', '^n', '(', '^\\d*$']);
      if (rng.chance(0.2)) s['default'] = rng.pick(['x', 'nn', 5]);
      return s;
    }
    case 1: {
      const s: Schema = { type: rng.pick(['integer', 'number']) };
      if (rng.chance(0.4)) s['minimum'] = rng.int(5) - 2;
      if (rng.chance(0.4)) s['maximum'] = rng.int(20);
      if (rng.chance(0.2)) s['exclusiveMaximum'] = true;
      if (rng.chance(0.2)) s['default'] = rng.pick([0, 3, 1.5, 'z']);
      return s;
    }
    case 2: return { type: 'boolean', ...(rng.chance(0.2) ? { default: true } : {}) };
    case 3: return { 'x-kubernetes-int-or-string': true };
    default: return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  }
}

function randomSchema(rng: Rng, depth: number): Schema {
  if (depth > 3 || rng.chance(0.35)) return scalarSchema(rng);
  if (rng.chance(0.3)) {
    const items = rng.chance(0.5) ? scalarSchema(rng) : randomSchema(rng, depth + 1);
    const s: Schema = { type: 'array', items };
    if (rng.chance(0.3)) s['maxItems'] = rng.int(4);
    if (rng.chance(0.3) && items['type'] && items['type'] !== 'object') s['x-kubernetes-list-type'] = 'set';
    if (rng.chance(0.2)) s['items'] = { type: 'object', required: ['name'], properties: { name: { type: 'string' }, v: { type: 'integer' } } };
    if (rng.chance(0.2) && s['items'].properties?.name) Object.assign(s, { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] });
    return s;
  }
  const properties: Schema = {};
  for (let i = rng.range(1, 4); i > 0; i--) properties[rng.pick(FIELD_NAMES)] = randomSchema(rng, depth + 1);
  const s: Schema = { type: 'object', properties };
  if (rng.chance(0.3)) s['required'] = [rng.pick(Object.keys(properties))];
  if (rng.chance(0.2)) s['additionalProperties'] = scalarSchema(rng), delete s['properties'];
  if (rng.chance(0.25)) s['x-kubernetes-validations'] = [{ rule: rng.pick(RULES), ...(rng.chance(0.5) ? { message: 'fuzz rule' } : {}) }];
  if (rng.chance(0.05)) delete s['type']; // not structural: must be refused
  return s;
}

/** A value loosely following `schema`, sometimes of the wrong shape. */
function valueFor(rng: Rng, schema: Schema | undefined, depth = 0): unknown {
  if (!schema || depth > 5 || rng.chance(0.08)) return jsonValue(rng, 3);
  if (schema['enum'] && rng.chance(0.7)) return rng.pick(schema['enum'] as unknown[]);
  if (schema['x-kubernetes-int-or-string']) return rng.pick([80, 'http', true, 1.5]);
  switch (schema['type']) {
    case 'string': return rng.pick(['', 'x', 'n1', 'abcdefgh', 'ABC', '123']);
    case 'integer': return rng.pick([0, 1, -3, 7, 25, 2.5]);
    case 'number': return rng.pick([0, 0.5, -1, 19.9, 20, '7']);
    case 'boolean': return rng.chance(0.5);
    case 'array': return Array.from({ length: rng.int(5) }, () => valueFor(rng, schema['items'], depth + 1));
    case 'object': {
      const o: Record<string, unknown> = {};
      const props = schema['properties'] as Schema | undefined;
      if (props) for (const [k, v] of Object.entries(props)) if (rng.chance(0.75)) o[k] = valueFor(rng, v, depth + 1);
      else if (schema['additionalProperties']) for (let i = rng.int(3); i > 0; i--) o[rng.pick(FIELD_NAMES)] = valueFor(rng, schema['additionalProperties'], depth + 1);
      if (rng.chance(0.2)) o['unknownField'] = 1;
      return o;
    }
    default: return jsonValue(rng, 3);
  }
}

/** This file's own check of a stored value (the keywords the generator uses; CEL is the server's business). */
function violations(value: unknown, schema: Schema | undefined, path: string, out: string[]): void {
  if (!schema || value === undefined) return;
  const fail = (why: string): void => { out.push(`${path}: ${why}`); };
  if (value === null) {
    if (!schema['nullable'] && schema['type']) fail('null');
    return;
  }
  if (schema['x-kubernetes-int-or-string']) {
    if (!(typeof value === 'string' || Number.isInteger(value))) fail('not int-or-string');
    return;
  }
  const t = schema['type'];
  const isObj = typeof value === 'object' && !Array.isArray(value);
  if (t === 'string' && typeof value !== 'string') return fail('not a string');
  if (t === 'integer' && !Number.isInteger(value)) return fail('not an integer');
  if (t === 'number' && typeof value !== 'number') return fail('not a number');
  if (t === 'boolean' && typeof value !== 'boolean') return fail('not a boolean');
  if (t === 'array' && !Array.isArray(value)) return fail('not an array');
  if (t === 'object' && !isObj) return fail('not an object');
  if (schema['enum'] && !(schema['enum'] as unknown[]).includes(value)) fail('not in enum');
  if (typeof value === 'number') {
    if (schema['minimum'] !== undefined && value < schema['minimum']) fail('below minimum');
    if (schema['maximum'] !== undefined && (schema['exclusiveMaximum'] ? value >= schema['maximum'] : value > schema['maximum'])) fail('above maximum');
  }
  if (typeof value === 'string') {
    if (schema['maxLength'] !== undefined && [...value].length > schema['maxLength']) fail('too long');
    if (schema['minLength'] !== undefined && [...value].length < schema['minLength']) fail('too short');
  }
  if (Array.isArray(value)) {
    if (schema['maxItems'] !== undefined && value.length > schema['maxItems']) fail('too many items');
    if (schema['x-kubernetes-list-type'] === 'set' && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) fail('duplicate in set');
    value.forEach((v, i) => violations(v, schema['items'], `${path}[${i}]`, out));
  }
  if (isObj) {
    const o = value as Record<string, unknown>;
    for (const r of (schema['required'] as string[] | undefined) ?? []) if (o[r] === undefined) fail(`missing ${r}`);
    for (const [k, v] of Object.entries(o)) {
      const member = schema['properties']?.[k] ?? (typeof schema['additionalProperties'] === 'object' ? schema['additionalProperties'] : undefined);
      if (member) violations(v, member, `${path}.${k}`, out);
      else if (!schema['x-kubernetes-preserve-unknown-fields']) fail(`unknown field ${k} was stored`);
    }
  }
}

it('random schemas and objects never crash the server and never store an object that fails its schema', async ({ server }) => {
  const seed = fuzzSeed('custom-resources');
  const rng = new Rng(seed);
  const cases = fuzzCount(12);
  const http = new HttpsTransport({ server: server.url, caPem: server.caPem, token: server.token });
  const get = async (path: string): Promise<{ status: number; text: string }> => {
    const reply = await http.request({ method: 'GET', path });
    return { status: reply.status, text: await reply.text() };
  };
  const send = async (method: string, path: string, body: unknown, contentType = 'application/json'): Promise<number> => {
    const reply = await http.request({ method, path, body: JSON.stringify(body), headers: { 'content-type': contentType } });
    const text = await reply.text();
    assert.ok(reply.status < 500, `seed ${seed}: ${method} ${path} answered ${reply.status}: ${text.slice(0, 500)}`);
    return reply.status;
  };
  let established = 0;
  let stored = 0;
  await runCases(rng, cases, 2, async (r, i) => {
    const plural = `fuzz${i}s`;
    const group = `g${i}.fuzz.test`;
    const spec = randomSchema(r, 1);
    const schema: Schema = { type: 'object', properties: { spec, status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } };
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: `${plural}.${group}` },
      spec: { group, scope: r.pick(['Namespaced', 'Cluster']), names: { plural, kind: `Fuzz${i}` }, versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: schema } }] },
    };
    const created = await send('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', r.chance(0.1) ? mutate(r, crd) : crd);
    if (created !== 201) return;
    const namespaced = crd.spec.scope === 'Namespaced';
    const base = `/apis/${group}/v1${namespaced ? '/namespaces/default' : ''}/${plural}`;
    try {
      await waitUntil(`${plural} served`, async () => (await get(base)).status === 200, 5000, 20);
    } catch {
      return; // e.g. a default the server refused later; the crash and storage checks still apply
    }
    established++;
    for (let j = 0; j < 8; j++) {
      const name = `o${j % 3}`;
      const object = { apiVersion: `${group}/v1`, kind: `Fuzz${i}`, metadata: { name }, spec: valueFor(r, spec) };
      const body = r.chance(0.15) ? mutate(r, object) : object;
      switch (r.int(3)) {
        case 0: await send('POST', base, body); break;
        case 1: await send('PATCH', `${base}/${name}`, { spec: valueFor(r, spec) }, 'application/merge-patch+json'); break;
        default: await send('PATCH', `${base}/${name}?fieldManager=fuzz&force=true`, body, 'application/apply-patch+yaml');
      }
    }
    const list = await get(base);
    const items = (JSON.parse(list.text) as { items: Record<string, unknown>[] }).items;
    for (const item of items) {
      stored++;
      const found: string[] = [];
      violations(item['spec'], spec, 'spec', found);
      assert.equal(found, [], `seed ${seed}: stored ${JSON.stringify(item['spec'])} fails ${JSON.stringify(spec)}`);
    }
    await send('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${plural}.${group}`, {});
  });
  http.close();
  process.stdout.write(`fuzz custom-resources: ${cases} schemas, ${established} served, ${stored} objects stored and checked\n`);
  assert.ok(server.child!.exitCode === null, 'the server is alive');
  const errors = server.logs.split('\n').filter((l) => l.includes('"level":"error"'));
  assert.equal(errors, [], `seed ${seed}: error-level log lines`);
});

it.run();
