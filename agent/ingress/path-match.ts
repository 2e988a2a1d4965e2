/**
 * How an Ingress host and path match a request, as the Ingress API specifies it:
 *
 * - host: exact (case-insensitive), or `*.example.com` matching exactly one more leading label
 *   (`a.example.com`, not `example.com` nor `a.b.example.com`); no host matches every request.
 * - Exact: the path, character for character.
 * - Prefix: element-wise on `/`-separated segments, ignoring a trailing `/` (`/foo` matches `/foo`,
 *   `/foo/` and `/foo/bar`, not `/foobar`); `/` matches everything.
 * - ImplementationSpecific: corral's choice is a plain string prefix (Traefik's PathPrefix);
 *   an empty path matches everything.
 */
import type { PathType } from '../../api/networking-types.js';

/** Lower case, without a port and without a trailing dot: what host rules compare with. */
export function normalizeHost(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  let host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    host = end > 0 ? host.slice(1, end) : host;
  } else {
    const colon = host.indexOf(':');
    if (colon >= 0 && host.indexOf(':', colon + 1) < 0) host = host.slice(0, colon);
  }
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/** Whether a rule host (exact or `*.` wildcard) covers `host` (already normalized). */
export function hostMatches(ruleHost: string, host: string): boolean {
  const rule = ruleHost.toLowerCase();
  if (!rule.startsWith('*.')) return rule === host;
  const suffix = rule.slice(1);
  if (!host.endsWith(suffix)) return false;
  const first = host.slice(0, host.length - suffix.length);
  return first !== '' && !first.includes('.');
}

/** Whether `requestPath` (without the query) matches the rule path of `pathType`. */
export function pathMatches(pathType: PathType, rulePath: string, requestPath: string): boolean {
  switch (pathType) {
    case 'Exact':
      return requestPath === rulePath;
    case 'Prefix': {
      const prefix = rulePath.replace(/\/+$/, '');
      if (prefix === '') return true;
      return requestPath === prefix || requestPath.startsWith(`${prefix}/`);
    }
    case 'ImplementationSpecific':
      return requestPath.startsWith(rulePath);
  }
}

/** The path part of a request target (`/a/b?x=1` → `/a/b`); an absolute-form target keeps only its path. */
export function requestPathOf(url: string | undefined): string {
  let target = url ?? '/';
  if (!target.startsWith('/')) {
    try {
      target = new URL(target).pathname;
    } catch {
      return '/';
    }
  }
  const q = target.search(/[?#]/);
  return q >= 0 ? target.slice(0, q) : target;
}

/**
 * Orders candidate paths as the Ingress API asks: the longest match wins; on equal length Exact
 * beats Prefix (and both beat ImplementationSpecific). Negative when `a` goes first.
 */
export function comparePathPrecedence(a: { pathType: PathType; path: string }, b: { pathType: PathType; path: string }): number {
  const len = (p: { pathType: PathType; path: string }): number => (p.pathType === 'Prefix' ? p.path.replace(/\/+$/, '') : p.path).length;
  const rank = { Exact: 0, Prefix: 1, ImplementationSpecific: 2 } as const;
  return len(b) - len(a) || rank[a.pathType] - rank[b.pathType];
}
