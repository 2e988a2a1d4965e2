/**
 * ValidatePodStatusUpdate's IP rules: podIP and every podIPs entry are IP addresses, podIPs[0] is
 * podIP, no duplicates; hostIP likewise. (Which addresses a node may report is admission's business:
 * see the server's PodIPs plugin.)
 */
import { isIP } from 'node:net';
import type { StatusCause } from '../status.js';
import { child, duplicate, index, invalid } from './field.js';

const IP_DETAIL = 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)';

function ipList(status: Record<string, unknown>, single: string, plural: string, out: StatusCause[]): void {
  const one = status[single];
  if (one !== undefined && one !== '' && (typeof one !== 'string' || isIP(one) === 0)) out.push(invalid(child('status', single), one, IP_DETAIL));
  const list = status[plural];
  if (list === undefined || list === null) return;
  if (!Array.isArray(list)) {
    out.push(invalid(child('status', plural), list, 'must be a list'));
    return;
  }
  const seen = new Set<string>();
  list.forEach((entry: unknown, i) => {
    const path = child(index(child('status', plural), i), 'ip');
    const ip = (entry as { ip?: unknown } | null)?.ip;
    if (typeof ip !== 'string' || isIP(ip) === 0) {
      out.push(invalid(path, ip ?? '', IP_DETAIL));
      return;
    }
    if (seen.has(ip)) out.push(duplicate(path, ip));
    seen.add(ip);
  });
  const first = (list[0] as { ip?: unknown } | undefined)?.ip;
  if (typeof one === 'string' && one !== '' && first !== undefined && first !== one) {
    out.push(invalid(child(index(child('status', plural), 0), 'ip'), first, `must be equal to ${single}`));
  }
}

export function validatePodStatusIPs(status: unknown): StatusCause[] {
  if (!status || typeof status !== 'object') return [];
  const out: StatusCause[] = [];
  ipList(status as Record<string, unknown>, 'podIP', 'podIPs', out);
  ipList(status as Record<string, unknown>, 'hostIP', 'hostIPs', out);
  return out;
}
