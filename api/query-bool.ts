/**
 * Boolean query parameters (`watch`, `allowWatchBookmarks`, `force`, `follow`, ...) read as Go's
 * strconv.ParseBool reads them: `1 t T TRUE true True` and `0 f F FALSE false False`. Clients spell
 * them differently (the Python client sends `watch=True`, client-go `true`, curl users `1`); any
 * other spelling is refused with 400 rather than silently taken as false.
 */
import { errors } from './status.js';

const TRUE: ReadonlySet<string> = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE: ReadonlySet<string> = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Every boolean parameter of the API's option kinds (ListOptions, PatchOptions, PodLogOptions, PodExecOptions, ...). */
export const BOOLEAN_QUERY_PARAMETERS: readonly string[] = [
  'watch', 'allowWatchBookmarks', 'sendInitialEvents', 'force', 'orphanDependents', 'pretty',
  'follow', 'previous', 'timestamps', 'insecureSkipTLSVerifyBackend', 'stdin', 'stdout', 'stderr', 'tty',
];

/** strconv.ParseBool: the value, or undefined when `text` is not one of its spellings. */
export function parseGoBool(text: string): boolean | undefined {
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  return undefined;
}

/** A boolean query parameter: `fallback` when absent, 400 BadRequest when misspelt. */
export function queryBool(q: URLSearchParams, name: string, fallback = false): boolean {
  const text = q.get(name);
  if (text === null) return fallback;
  const value = parseGoBool(text);
  if (value === undefined) throw errors.badRequest(`invalid value for query parameter "${name}": strconv.ParseBool: parsing ${JSON.stringify(text)}: invalid syntax`);
  return value;
}

/** Refuses a request whose boolean parameters are not all readable, before anything acts on it. */
export function checkBooleanQuery(q: URLSearchParams): void {
  for (const name of BOOLEAN_QUERY_PARAMETERS) queryBool(q, name);
}
