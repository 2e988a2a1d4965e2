/**
 * What every listener checks on a request line before routing, the way Go's net/http (and so the
 * Kubernetes apiserver and kubelet) does: percent-escapes in the path must be well formed, the Host
 * header must be a host, and path segments decode without throwing (bytes that are not UTF-8 become
 * U+FFFD, where JavaScript's decodeURIComponent would throw "URI malformed").
 */

/** Go's url.EscapeError text for the first malformed `%` escape of `path`, or undefined. */
export function badEscapeMessage(path: string): string | undefined {
  for (let i = path.indexOf('%'); i !== -1; i = path.indexOf('%', i + 1)) {
    if (!/^[0-9A-Fa-f]{2}$/.test(path.slice(i + 1, i + 3))) return `invalid URL escape ${JSON.stringify(path.slice(i, i + 3))}`;
  }
  return undefined;
}

/** The path of a request target (`/a/b?x=1` → `/a/b`), still escaped. */
export function rawPathOf(target: string): string {
  const end = target.search(/[?#]/);
  return end === -1 ? target : target.slice(0, end);
}

/** The query of a request target, parsed leniently (as Go's URL.Query does, bad escapes never throw). */
export function rawQueryOf(target: string): URLSearchParams {
  const q = target.indexOf('?');
  if (q === -1) return new URLSearchParams();
  const hash = target.indexOf('#', q);
  return new URLSearchParams(target.slice(q + 1, hash === -1 ? undefined : hash));
}

const HEX = /^[0-9A-Fa-f]{2}$/;

/** Decodes `%XX` escapes of one path segment to bytes and reads them as UTF-8; never throws. */
export function decodePathSegment(segment: string): string {
  if (!segment.includes('%')) return segment;
  const bytes: number[] = [];
  for (let i = 0; i < segment.length; i++) {
    const hex = segment.slice(i + 1, i + 3);
    if (segment[i] === '%' && HEX.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(segment[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Bytes Go's httpguts.ValidHostHeader allows in a Host header. */
const HOST_BYTES = /^[A-Za-z0-9!$%&'()*+,\-.:;=[\]_~]*$/;

/**
 * True when `host` cannot be the Host of a request: bytes Go refuses, or a value no URL can be built
 * from (an upgrade turns Host into a URL). A missing Host is left to the server's default.
 */
export function isMalformedHost(host: string | undefined): boolean {
  if (host === undefined || wellFormedHosts.has(host)) return false;
  if (host === '' || !HOST_BYTES.test(host)) return true;
  if (!URL.canParse(`https://${host}/`)) return true;
  if (wellFormedHosts.size >= WELL_FORMED_HOSTS) wellFormedHosts.clear();
  wellFormedHosts.add(host);
  return false;
}

/**
 * Hosts found well formed lately: clients send the same one or two every time, and building a URL to
 * check one was ~1.4 % of the server's CPU under the hollow nodes' status writes.
 */
const wellFormedHosts = new Set<string>();
const WELL_FORMED_HOSTS = 64;

export const MALFORMED_HOST_MESSAGE = 'malformed Host header';
