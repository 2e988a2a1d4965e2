/**
 * Cell formatting shared by the Table printers, matching what upstream's server-side printers put in
 * cells (k8s.io/apimachinery duration.HumanDuration, labels.FormatLabels, selector strings, ...).
 */
import type { LabelSelector } from '../../api/meta.js';
import type { Container } from '../../api/types.js';
import { SelectorError, labelRequirementsToString, labelSelectorFromObject } from '../../api/selectors.js';

/**
 * duration.HumanDuration: whole seconds below 2 minutes ("90s"), then minutes with seconds below 10
 * minutes ("2m30s"), minutes below 3 hours ("150m"), hours with minutes below 8 hours ("5h30m"), hours
 * below 2 days ("36h"), days with hours below 8 days ("3d4h"), days below 2 years ("400d"), years with
 * days below 8 years ("3y20d"), then years. A clock skew of up to a second reads as "0s".
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 365 * 2) return `${days}d`;
  if (hours < 24 * 365 * 8) {
    const d = days % 365;
    return d === 0 ? `${Math.trunc(days / 365)}y` : `${Math.trunc(days / 365)}y${d}d`;
  }
  return `${Math.trunc(days / 365)}y`;
}

/** The Age of something created at `from` (an RFC 3339 string), seen at `now`; "<unknown>" if unset. */
export function formatAge(from: string | null | undefined, now: Date): string {
  const at = parseTime(from);
  return at === undefined ? '<unknown>' : humanDuration(now.getTime() - at);
}

/** Milliseconds since the epoch, or undefined for an absent or unparsable (= zero) time. */
export function parseTime(value: string | null | undefined): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** labels.FormatLabels: "k=v,k2=v2" sorted by key, "<none>" when empty. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const keys = Object.keys(labels ?? {}).sort();
  if (keys.length === 0) return '<none>';
  return keys.map((k) => `${k}=${labels![k]}`).join(',');
}

/**
 * metav1.LabelSelectorAsSelector(sel).String(): requirements sorted by key, "" for an empty or absent
 * selector. Upstream fails the row on an invalid selector; a cell saying "<error>" keeps the list usable.
 */
export function selectorString(sel: LabelSelector | null | undefined): string {
  try {
    return labelRequirementsToString(labelSelectorFromObject(sel));
  } catch (err) {
    if (err instanceof SelectorError) return '<error>';
    throw err;
  }
}

/** layoutContainerCells: container names and images, each comma-joined. */
export function containerCells(containers: readonly Container[] | undefined): [string, string] {
  const list = containers ?? [];
  return [list.map((c) => c.name).join(','), list.map((c) => c.image ?? '').join(',')];
}

/** net.JoinHostPort: IPv6 addresses in brackets. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
