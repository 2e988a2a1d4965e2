/**
 * JSON patch (RFC 6902) with JSON pointers (RFC 6901), used by `kubectl patch --type=json` and
 * `rollout undo`. Operations apply in order to a private copy; the first failing one aborts the
 * whole patch with a PatchError naming the operation and its path.
 */
import { PatchError } from './errors.js';
import { cloneJson, hasOwn, isJsonObject, jsonEqual, setOwn, type JsonObject } from './json-value.js';

export type JsonPatchOperation =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; from: string; path: string };

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/** Splits a JSON pointer into unescaped reference tokens ("" is the whole document). */
export function parseJsonPointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`JSON pointer ${JSON.stringify(pointer)} must start with '/'`);
  return pointer.slice(1).split('/').map((token) => {
    if (/~(?![01])/.test(token)) throw new Error(`JSON pointer ${JSON.stringify(pointer)} has an invalid '~' escape`);
    return token.replace(/~1/g, '/').replace(/~0/g, '~');
  });
}

/** An array index token: "0" or a number without leading zeros. */
function arrayIndex(token: string, length: number, allowEnd: boolean): number {
  if (allowEnd && token === '-') return length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new Error(`${JSON.stringify(token)} is not a valid array index`);
  const index = Number(token);
  const max = allowEnd ? length : length - 1;
  if (index > max) throw new Error(`array index ${index} is out of bounds (length ${length})`);
  return index;
}

/** Follows all tokens and returns the value there (throws when a step is missing). */
function resolve(doc: unknown, tokens: readonly string[]): unknown {
  let current = doc;
  for (const token of tokens) {
    if (Array.isArray(current)) current = current[arrayIndex(token, current.length, false)];
    else if (isJsonObject(current) && hasOwn(current, token)) current = current[token];
    else throw new Error(`path does not exist (missing ${JSON.stringify(token)})`);
  }
  return current;
}

interface Location {
  container: unknown[] | JsonObject;
  token: string;
}

/** Resolves the parent of the addressed value; the root document has no parent. */
function locate(doc: unknown, tokens: readonly string[]): Location {
  const parent = resolve(doc, tokens.slice(0, -1));
  const token = tokens[tokens.length - 1] ?? '';
  if (Array.isArray(parent) || isJsonObject(parent)) return { container: parent, token };
  throw new Error('parent of the target location is not an object or array');
}

function add(doc: unknown, tokens: readonly string[], value: unknown): unknown {
  if (tokens.length === 0) return value;
  const { container, token } = locate(doc, tokens);
  if (Array.isArray(container)) container.splice(arrayIndex(token, container.length, true), 0, value);
  else setOwn(container, token, value);
  return doc;
}

function remove(doc: unknown, tokens: readonly string[]): { doc: unknown; removed: unknown } {
  if (tokens.length === 0) throw new Error('cannot remove the whole document');
  const { container, token } = locate(doc, tokens);
  if (Array.isArray(container)) {
    const [removed] = container.splice(arrayIndex(token, container.length, false), 1);
    return { doc, removed };
  }
  if (!hasOwn(container, token)) throw new Error(`path does not exist (missing ${JSON.stringify(token)})`);
  const removed = container[token];
  delete container[token];
  return { doc, removed };
}

function replace(doc: unknown, tokens: readonly string[], value: unknown): unknown {
  if (tokens.length === 0) return value;
  const { container, token } = locate(doc, tokens);
  if (Array.isArray(container)) container[arrayIndex(token, container.length, false)] = value;
  else if (hasOwn(container, token)) setOwn(container, token, value);
  else throw new Error(`path does not exist (missing ${JSON.stringify(token)})`);
  return doc;
}

function isPrefix(prefix: readonly string[], tokens: readonly string[]): boolean {
  return prefix.length < tokens.length && prefix.every((token, i) => tokens[i] === token);
}

/** Checks one operation's shape and narrows it. */
function readOperation(raw: unknown, index: number): JsonPatchOperation {
  if (!isJsonObject(raw)) throw new PatchError(`json patch operation ${index} is not an object`);
  const { op, path } = raw;
  if (typeof op !== 'string' || !OPS.has(op)) {
    throw new PatchError(`json patch operation ${index}: unknown op ${JSON.stringify(op)}`);
  }
  if (typeof path !== 'string') throw new PatchError(`json patch operation ${index} (${op}): missing string "path"`);
  if (op === 'add' || op === 'replace' || op === 'test') {
    if (!hasOwn(raw, 'value')) throw new PatchError(`json patch ${op} operation at ${JSON.stringify(path)}: missing "value"`);
    return { op, path, value: raw['value'] };
  }
  if (op === 'move' || op === 'copy') {
    const from = raw['from'];
    if (typeof from !== 'string') throw new PatchError(`json patch ${op} operation at ${JSON.stringify(path)}: missing string "from"`);
    return { op, from, path };
  }
  return { op: 'remove', path };
}

/**
 * JSON values all copy operations of one patch may duplicate in total: a few hundred copies of a
 * document into itself would otherwise double it each time and hold the server for seconds.
 */
const COPY_BUDGET_NODES = 1_000_000;

/** Counts the values in `v` (stops early once past `limit`). */
function countNodes(v: unknown, limit: number): number {
  let n = 0;
  const stack: unknown[] = [v];
  while (stack.length > 0 && n <= limit) {
    const cur = stack.pop();
    n++;
    if (cur !== null && typeof cur === 'object') for (const child of Object.values(cur)) stack.push(child);
  }
  return n;
}

function applyOperation(doc: unknown, operation: JsonPatchOperation, budget: { copied: number }): unknown {
  const tokens = parseJsonPointer(operation.path);
  switch (operation.op) {
    case 'add':
      return add(doc, tokens, cloneJson(operation.value));
    case 'remove':
      return remove(doc, tokens).doc;
    case 'replace':
      return replace(doc, tokens, cloneJson(operation.value));
    case 'move': {
      const from = parseJsonPointer(operation.from);
      if (isPrefix(from, tokens)) throw new Error(`cannot move ${JSON.stringify(operation.from)} into one of its children`);
      if (from.length === tokens.length && from.every((t, i) => t === tokens[i])) return doc;
      const { doc: afterRemove, removed } = remove(doc, from);
      return add(afterRemove, tokens, removed);
    }
    case 'copy': {
      const value = resolve(doc, parseJsonPointer(operation.from));
      budget.copied += countNodes(value, COPY_BUDGET_NODES - budget.copied);
      if (budget.copied > COPY_BUDGET_NODES) throw new PatchError(`json patch copies more than ${COPY_BUDGET_NODES} values in total`);
      return add(doc, tokens, cloneJson(value));
    }
    case 'test': {
      const actual = resolve(doc, tokens);
      if (!jsonEqual(actual, operation.value)) {
        throw new PatchError(
          `json patch test operation at ${JSON.stringify(operation.path)} failed: value is ${JSON.stringify(actual)}, expected ${JSON.stringify(operation.value)}`,
          'Conflict',
        );
      }
      return doc;
    }
  }
}

/** Applies the operations in order and returns a new document; `target` is never modified. */
export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError('json patch must be an array of operations');
  const operations = ops.map((raw, i) => readOperation(raw, i));
  let doc = cloneJson(target);
  const budget = { copied: 0 };
  for (const operation of operations) {
    try {
      doc = applyOperation(doc, operation, budget);
    } catch (err) {
      if (err instanceof PatchError) throw err;
      const where = operation.op === 'move' || operation.op === 'copy'
        ? `from ${JSON.stringify(operation.from)} to ${JSON.stringify(operation.path)}`
        : `at ${JSON.stringify(operation.path)}`;
      throw new PatchError(`json patch ${operation.op} operation ${where} failed: ${(err as Error).message}`);
    }
  }
  return doc;
}
