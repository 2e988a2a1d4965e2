/**
 * What events.k8s.io/v1 insists on when an Event is created through it (upstream's ValidateEventCreate
 * for that version): eventTime, reportingController (a qualified name), reportingInstance, action and
 * reason are required; type is Normal or Warning; the deprecated core fields must be unset; a note is
 * at most 1 KiB. The object's own metadata and core rules are checked by the core Event's validation.
 */
import type { KubeObject } from '../meta.js';
import type { StatusCause } from '../status.js';
import { asString, eachInvalid, invalid, required } from './field.js';
import { isQualifiedName } from './names.js';

const MAX_SHORT = 128;
const MAX_NOTE = 1024;

export function validateEventV1Create(obj: KubeObject): StatusCause[] {
  const e = obj as Record<string, unknown>;
  const out: StatusCause[] = [];
  if (e['eventTime'] === undefined || e['eventTime'] === null || e['eventTime'] === '') out.push(required('eventTime'));
  const type = asString(e['type']);
  if (type !== 'Normal' && type !== 'Warning') out.push(invalid('type', '', `has invalid value: ${type}`));
  for (const [v1, core] of [['deprecatedFirstTimestamp', 'firstTimestamp'], ['deprecatedLastTimestamp', 'lastTimestamp'], ['deprecatedSource', 'source']] as const) {
    if (e[v1] !== undefined && e[v1] !== null) out.push(invalid(core, '', 'needs to be unset'));
  }
  if (typeof e['deprecatedCount'] === 'number' && e['deprecatedCount'] !== 0) out.push(invalid('count', '', 'needs to be unset'));
  const controller = asString(e['reportingController']);
  if (controller === '') out.push(required('reportingController'));
  else out.push(...eachInvalid('reportingController', controller, isQualifiedName(controller)));
  for (const field of ['reportingInstance', 'action', 'reason'] as const) {
    const v = asString(e[field]);
    if (v === '') out.push(required(field));
    else if (v.length > MAX_SHORT) out.push(invalid(field, '', `can have at most ${MAX_SHORT} characters`));
  }
  if (Buffer.byteLength(asString(e['note'])) > MAX_NOTE) out.push(invalid('note', '', `can have at most ${MAX_NOTE} characters`));
  return out;
}
