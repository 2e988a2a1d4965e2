/**
 * events.k8s.io/v1 Events are core/v1 Events in a newer shape (upstream converts between them in the
 * API server; one storage holds both). Field by field: regarding ↔ involvedObject, note ↔ message,
 * reportingController ↔ reportingComponent, deprecatedSource/FirstTimestamp/LastTimestamp/Count ↔
 * source/firstTimestamp/lastTimestamp/count; the rest keep their names.
 */
import type { KubeObject } from './meta.js';
import type { Event } from './types.js';

export const EVENTS_V1 = 'events.k8s.io/v1';

/** Field names: core/v1 → events.k8s.io/v1 (fields not listed keep their names). */
const RENAMES: readonly (readonly [string, string])[] = [
  ['involvedObject', 'regarding'],
  ['message', 'note'],
  ['reportingComponent', 'reportingController'],
  ['source', 'deprecatedSource'],
  ['firstTimestamp', 'deprecatedFirstTimestamp'],
  ['lastTimestamp', 'deprecatedLastTimestamp'],
  ['count', 'deprecatedCount'],
];
const SHARED = ['reportingInstance', 'action', 'reason', 'related', 'type', 'series'];

function copyFields(from: Record<string, unknown>, to: Record<string, unknown>, pairs: readonly (readonly [string, string])[]): void {
  for (const [a, b] of pairs) {
    const v = from[a];
    if (v !== undefined && v !== null && v !== '') to[b] = v;
  }
}

/** A stored core/v1 Event as events.k8s.io/v1 shows it. */
export function eventToV1(core: KubeObject): KubeObject {
  const src = core as Record<string, unknown>;
  const out: Record<string, unknown> = { apiVersion: EVENTS_V1, kind: 'Event', metadata: core.metadata };
  out['eventTime'] = src['eventTime'] ?? null;
  copyFields(src, out, RENAMES);
  copyFields(src, out, SHARED.map((f) => [f, f] as const));
  return out as KubeObject;
}

/** An events.k8s.io/v1 Event as core/v1 stores it. */
export function eventFromV1(v1: KubeObject): Event {
  const src = v1 as Record<string, unknown>;
  const out: Record<string, unknown> = { apiVersion: 'v1', kind: 'Event', metadata: v1.metadata ?? {} };
  if (src['eventTime'] !== undefined && src['eventTime'] !== null) out['eventTime'] = src['eventTime'];
  copyFields(src, out, RENAMES.map(([a, b]) => [b, a] as const));
  copyFields(src, out, SHARED.map((f) => [f, f] as const));
  if (out['involvedObject'] === undefined) out['involvedObject'] = {};
  return out as unknown as Event;
}
