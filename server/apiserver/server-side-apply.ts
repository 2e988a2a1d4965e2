/**
 * Server-side apply with field ownership (`metadata.managedFields`, FieldsV1), the part of
 * structured-merge-diff that kubectl users see:
 *  - an apply owns exactly the fields of its configuration; fields it applied before and now omits
 *    are removed unless another manager owns them too;
 *  - applying a value to a field another manager owns with a different value is a 409 Conflict
 *    naming the manager and field (`force=true` takes the field over instead);
 *  - ordinary updates of an object that has managedFields take ownership of what they change.
 * Objects never applied carry no managedFields (no cost on the common path); on the first apply
 * their existing fields are attributed to "before-first-apply", as the upstream apiserver does for
 * objects without ownership data.
 * Lists follow the strategic-merge-patch list table: keyed lists are owned element by element
 * (`k:{"name":"web"}`), scalar sets value by value (`v:"x"`), other lists as a whole.
 */
import type { KubeObject, ManagedFieldsEntry } from '../../api/meta.js';
import { rfc3339 } from '../../api/meta.js';
import { listStrategy } from '../../api/patch/merge-keys.js';
import { applyStrategicMergePatch } from '../../api/patch/strategic-merge-patch.js';
import { StatusError, type StatusCause } from '../../api/status.js';
import { clone, deepEqual } from '../../api/object-util.js';

/** A field path: FieldsV1 path elements (`f:spec`, `k:{"name":"c"}`, `v:"x"`) joined by NUL. */
type FieldPath = string;
const SEP = '\u0000';

export const BEFORE_FIRST_APPLY = 'before-first-apply';

/** Top-level members that are not fields of the object's content. */
const SKIPPED_TOP = new Set(['apiVersion', 'kind', 'metadata', 'status']);
/** The metadata members whose ownership is tracked. */
const TRACKED_METADATA = ['labels', 'annotations', 'finalizers', 'ownerReferences'];

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// ------------------------------------------------------------------------------ field sets

/** The leaf paths of `value`; `names` are the field names from the root (for the list table). */
function collect(value: unknown, names: string[], path: string[], out: Set<FieldPath>): void {
  if (isObject(value)) {
    const keys = Object.keys(value).filter((k) => !k.startsWith('$'));
    if (keys.length === 0) out.add(path.join(SEP));
    for (const k of keys) collect(value[k], [...names, k], [...path, `f:${k}`], out);
    return;
  }
  if (Array.isArray(value)) {
    const strategy = listStrategy(names);
    if (strategy.kind === 'merge' && value.every((e) => isObject(e) && e[strategy.mergeKey] !== undefined)) {
      for (const e of value as Record<string, unknown>[]) {
        const element = [...path, `k:${JSON.stringify({ [strategy.mergeKey]: e[strategy.mergeKey] })}`];
        out.add(element.join(SEP));
        for (const k of Object.keys(e)) {
          if (k.startsWith('$')) continue;
          collect(e[k], [...names, k], [...element, `f:${k}`], out);
        }
      }
      return;
    }
    if (strategy.kind === 'set' && value.every((e) => !isObject(e) && !Array.isArray(e))) {
      for (const e of value) out.add([...path, `v:${JSON.stringify(e)}`].join(SEP));
      return;
    }
  }
  out.add(path.join(SEP));
}

/** The fields of an object that ownership is tracked for. */
export function fieldSet(obj: Record<string, unknown>): Set<FieldPath> {
  const out = new Set<FieldPath>();
  for (const k of Object.keys(obj)) {
    if (SKIPPED_TOP.has(k)) continue;
    collect(obj[k], [k], [`f:${k}`], out);
  }
  const meta = isObject(obj['metadata']) ? obj['metadata'] : {};
  for (const k of TRACKED_METADATA) {
    if (meta[k] !== undefined) collect(meta[k], ['metadata', k], ['f:metadata', `f:${k}`], out);
  }
  return out;
}

/** FieldsV1: nested objects keyed by path element; `.` marks a node that is itself owned. */
function toFieldsV1(set: Set<FieldPath>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const p of [...set].sort()) {
    let node = root;
    for (const pe of p.split(SEP)) node = (node[pe] ??= {}) as Record<string, unknown>;
    if (Object.keys(node).length > 0 || isElementPath(p)) node['.'] = {};
  }
  // A node that is owned and has children needs the `.` marker; a bare leaf is `{}`.
  return root;
}

function isElementPath(p: FieldPath): boolean {
  const last = p.split(SEP).pop() ?? '';
  return last.startsWith('k:');
}

function fromFieldsV1(v: unknown): Set<FieldPath> {
  const out = new Set<FieldPath>();
  const walk = (node: unknown, path: string[]): void => {
    if (!isObject(node)) return;
    const keys = Object.keys(node);
    if (keys.length === 0 && path.length > 0) out.add(path.join(SEP));
    for (const k of keys) {
      if (k === '.') out.add(path.join(SEP));
      else walk(node[k], [...path, k]);
    }
  };
  walk(v, []);
  return out;
}

// ------------------------------------------------------------------------------ navigation

function matchesKey(e: unknown, key: Record<string, unknown>): boolean {
  return isObject(e) && Object.entries(key).every(([k, v]) => deepEqual(e[k], v));
}

const MISSING = Symbol('missing');

function valueAt(obj: unknown, p: FieldPath): unknown {
  let cur: unknown = obj;
  for (const pe of p.split(SEP)) {
    if (pe.startsWith('f:')) {
      if (!isObject(cur) || !(pe.slice(2) in cur)) return MISSING;
      cur = cur[pe.slice(2)];
    } else if (pe.startsWith('k:')) {
      const key = JSON.parse(pe.slice(2)) as Record<string, unknown>;
      if (!Array.isArray(cur)) return MISSING;
      const found = cur.find((e) => matchesKey(e, key));
      if (found === undefined) return MISSING;
      cur = found;
    } else if (pe.startsWith('v:')) {
      const value = JSON.parse(pe.slice(2)) as unknown;
      return Array.isArray(cur) && cur.some((e) => deepEqual(e, value)) ? value : MISSING;
    }
  }
  return cur;
}

/** Removes the field at `p` from `obj` (in place); a missing field is left alone. */
function removeAt(obj: Record<string, unknown>, p: FieldPath): void {
  const pes = p.split(SEP);
  const last = pes.pop()!;
  const parent = pes.length === 0 ? obj : valueAt(obj, pes.join(SEP));
  if (parent === MISSING) return;
  if (last.startsWith('f:') && isObject(parent)) {
    delete parent[last.slice(2)];
  } else if ((last.startsWith('k:') || last.startsWith('v:')) && Array.isArray(parent)) {
    const key = JSON.parse(last.slice(2)) as unknown;
    const keep = parent.filter((e) => (last.startsWith('k:') ? !matchesKey(e, key as Record<string, unknown>) : !deepEqual(e, key)));
    parent.splice(0, parent.length, ...keep);
  }
}

/** `.spec.template.spec.containers[name="web"].image`, as structured-merge-diff prints paths. */
function printPath(p: FieldPath): string {
  return p.split(SEP).map((pe) => {
    if (pe.startsWith('f:')) return `.${pe.slice(2)}`;
    if (pe.startsWith('k:')) {
      const key = JSON.parse(pe.slice(2)) as Record<string, unknown>;
      return `[${Object.entries(key).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]`;
    }
    return `[=${pe.slice(2)}]`;
  }).join('');
}

// ------------------------------------------------------------------------------ managers

interface Manager { entry: ManagedFieldsEntry; set: Set<FieldPath> }

function readManagers(obj: KubeObject, apiVersion: string): Manager[] {
  const entries = obj.metadata.managedFields;
  if (entries && entries.length > 0) return entries.map((entry) => ({ entry, set: fromFieldsV1(entry.fieldsV1) }));
  const set = fieldSet(obj as unknown as Record<string, unknown>);
  if (set.size === 0) return [];
  return [{ entry: { manager: BEFORE_FIRST_APPLY, operation: 'Update', apiVersion }, set }];
}

function writeManagers(managers: Manager[], time: string): ManagedFieldsEntry[] {
  return managers.filter((m) => m.set.size > 0).map((m) => ({
    manager: m.entry.manager ?? '',
    operation: m.entry.operation ?? 'Update',
    apiVersion: m.entry.apiVersion ?? '',
    time: m.entry.time ?? time,
    fieldsType: 'FieldsV1',
    fieldsV1: toFieldsV1(m.set),
    ...(m.entry.subresource ? { subresource: m.entry.subresource } : {}),
  }));
}

function sameSet(a: Set<FieldPath>, b: Set<FieldPath>): boolean {
  return a.size === b.size && [...a].every((p) => b.has(p));
}

/** Whether `owner` owns `p` itself or something inside it. */
function ownsWithin(owner: Set<FieldPath>, p: FieldPath): boolean {
  if (owner.has(p)) return true;
  const prefix = p + SEP;
  for (const q of owner) if (q.startsWith(prefix)) return true;
  return false;
}

function printManager(entry: ManagedFieldsEntry): string {
  let s = JSON.stringify(entry.manager ?? '');
  if (entry.subresource) s += ` with subresource ${JSON.stringify(entry.subresource)}`;
  return entry.operation === 'Update' ? `${s} using ${entry.apiVersion ?? ''}` : s;
}

function conflictError(conflicts: { manager: ManagedFieldsEntry; path: FieldPath }[]): StatusError {
  const causes: StatusCause[] = conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${printManager(c.manager)}`, field: printPath(c.path) }));
  let message: string;
  if (conflicts.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${printManager(conflicts[0]!.manager)}: ${printPath(conflicts[0]!.path)}`;
  } else {
    const byManager = new Map<string, string[]>();
    for (const c of conflicts) {
      const m = printManager(c.manager);
      byManager.set(m, [...(byManager.get(m) ?? []), printPath(c.path)]);
    }
    const lines: string[] = [];
    for (const m of [...byManager.keys()].sort()) lines.push(`conflicts with ${m}:`, ...byManager.get(m)!.map((p) => `- ${p}`));
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  }
  return new StatusError(409, 'Conflict', message, { causes });
}

const isApplyBy = (m: Manager, manager: string): boolean => m.entry.manager === manager && m.entry.operation === 'Apply' && !m.entry.subresource;

// ------------------------------------------------------------------------------ operations

/** What a create through apply records: the applier owns its configuration. */
export function managedFieldsForCreate(config: Record<string, unknown>, manager: string, apiVersion: string): ManagedFieldsEntry[] {
  return writeManagers([{ entry: { manager, operation: 'Apply', apiVersion }, set: fieldSet(config) }], rfc3339());
}

/**
 * Applies `config` (already checked to be an object of the kind) to `current`, returning the new
 * object with its managedFields. Throws 409 on conflicts unless `force`.
 */
export function applyConfiguration(current: KubeObject, config: Record<string, unknown>, manager: string, apiVersion: string, force: boolean): KubeObject {
  const managers = readManagers(current, apiVersion);
  const applied = fieldSet(config);
  const conflicts: { manager: ManagedFieldsEntry; path: FieldPath }[] = [];
  for (const m of managers) {
    if (isApplyBy(m, manager)) continue;
    for (const p of applied) {
      // Elements of keyed lists are shared freely; only their fields can conflict.
      if (!m.set.has(p) || isElementPath(p)) continue;
      const live = valueAt(current, p);
      const wanted = valueAt(config, p);
      if (live === MISSING || deepEqual(live, wanted)) continue; // shared ownership of an equal value
      if (force) m.set.delete(p);
      else conflicts.push({ manager: m.entry, path: p });
    }
  }
  if (conflicts.length > 0) throw conflictError(conflicts);

  const mine = managers.find((m) => isApplyBy(m, manager));
  const others = managers.filter((m) => m !== mine);
  let next = clone(current) as unknown as Record<string, unknown>;
  // Fields this manager applied before and no longer does go away unless someone else owns them.
  const dropped = mine ? [...mine.set].filter((p) => !applied.has(p) && !others.some((m) => ownsWithin(m.set, p))) : [];
  for (const p of dropped) {
    // Removing an element removes its fields; removing them first would lose the element's key.
    if (dropped.some((q) => p.startsWith(q + SEP))) continue;
    removeAt(next, p);
  }
  const { status: _status, ...content } = config;
  next = applyStrategicMergePatch(next, content) as Record<string, unknown>;

  const nextObj = next as unknown as KubeObject;
  const unchanged = mine !== undefined && sameSet(mine.set, applied);
  const result: Manager[] = [
    ...others,
    { entry: unchanged ? mine.entry : { manager, operation: 'Apply', apiVersion }, set: applied },
  ];
  nextObj.metadata.managedFields = writeManagers(result, rfc3339());
  return nextObj;
}

/**
 * Ownership after an ordinary write by `manager`: it takes the fields it changed. Only for objects
 * that already carry managedFields (anything applied once); returns undefined otherwise.
 */
export function managedFieldsAfterUpdate(current: KubeObject, next: KubeObject, manager: string, apiVersion: string, subresource?: string): ManagedFieldsEntry[] | undefined {
  const entries = current.metadata.managedFields;
  if (!entries || entries.length === 0) return undefined;
  const before = fieldSet(current as unknown as Record<string, unknown>);
  const after = fieldSet(next as unknown as Record<string, unknown>);
  const changed = new Set<FieldPath>();
  for (const p of after) {
    if (!before.has(p)) changed.add(p);
    else if (!isElementPath(p) && !deepEqual(valueAt(current, p), valueAt(next, p))) changed.add(p);
  }
  const removed = [...before].filter((p) => !after.has(p));
  if (changed.size === 0 && removed.length === 0) return entries;
  const managers = readManagers(current, apiVersion);
  for (const m of managers) {
    for (const p of changed) m.set.delete(p);
    for (const p of removed) m.set.delete(p);
  }
  let mine = managers.find((m) => m.entry.manager === manager && m.entry.operation === 'Update' && (m.entry.subresource ?? '') === (subresource ?? ''));
  if (!mine) {
    mine = { entry: { manager, operation: 'Update', apiVersion, ...(subresource ? { subresource } : {}) }, set: new Set() };
    managers.push(mine);
  }
  for (const p of changed) mine.set.add(p);
  mine.entry = { ...mine.entry, time: rfc3339() };
  return writeManagers(managers, rfc3339());
}
