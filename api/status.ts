/**
 * Kubernetes `Status` errors. Every failure the API server returns is one of these, so kubectl prints
 * its usual messages (`Error from server (NotFound): pods "x" not found`).
 */

export interface StatusCause { reason: string; message: string; field?: string }

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never> | { resourceVersion?: string };
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

export type StatusReason =
  | 'BadRequest' | 'Unauthorized' | 'Forbidden' | 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Gone'
  | 'Expired' | 'Invalid' | 'RequestEntityTooLarge' | 'UnsupportedMediaType' | 'MethodNotAllowed'
  | 'NotAcceptable' | 'TooManyRequests' | 'InternalError' | 'ServiceUnavailable' | 'Timeout';

/**
 * Reasons whose Status upstream always sends with `details` (apimachinery's NewNotFound, NewForbidden,
 * NewMethodNotSupported, ... fill it even when the name is empty). Clients dereference it: kubectl
 * debug reads `details.name` of a 404 and crashed on a Status without it.
 */
const REASONS_WITH_DETAILS: ReadonlySet<StatusReason> = new Set(['NotFound', 'AlreadyExists', 'Conflict', 'Forbidden', 'Invalid', 'MethodNotAllowed']);

function defaultDetails(reason: StatusReason, message: string): StatusDetails | undefined {
  if (REASONS_WITH_DETAILS.has(reason)) return {};
  // NewInternalError carries the underlying error as its one cause.
  if (reason === 'InternalError') return { causes: [{ reason: '', message }] };
  return undefined;
}

/** An error that carries the Status the API server should answer with. */
export class StatusError extends Error {
  readonly code: number;
  readonly reason: StatusReason;
  /** Not named `details`: test runners (uvu) treat an error's `details` as a printable diff. */
  readonly statusDetails: StatusDetails | undefined;

  constructor(code: number, reason: StatusReason, message: string, details?: StatusDetails) {
    super(message);
    this.name = 'StatusError';
    this.code = code;
    this.reason = reason;
    this.statusDetails = details;
  }

  toStatus(): Status {
    const details = this.statusDetails ?? defaultDetails(this.reason, this.message);
    return {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: this.message, reason: this.reason,
      ...(details ? { details } : {}),
      code: this.code,
    };
  }

  static fromStatus(s: Partial<Status>, fallbackCode: number): StatusError {
    return new StatusError(
      s.code ?? fallbackCode,
      (s.reason as StatusReason | undefined) ?? 'InternalError',
      s.message ?? `HTTP ${fallbackCode}`,
      s.details,
    );
  }
}

/** `qualified` is how the resource is named in messages: `pods`, `deployments.apps`. */
export const errors = {
  badRequest: (message: string): StatusError => new StatusError(400, 'BadRequest', message),
  unauthorized: (): StatusError => new StatusError(401, 'Unauthorized', 'Unauthorized'),
  forbidden: (message: string, details?: StatusDetails): StatusError => new StatusError(403, 'Forbidden', message, details),
  notFound: (qualified: string, name: string, group = ''): StatusError =>
    new StatusError(404, 'NotFound', `${qualified} "${name}" not found`, { name, group, kind: qualified.split('.')[0]! }),
  alreadyExists: (qualified: string, name: string, group = ''): StatusError =>
    new StatusError(409, 'AlreadyExists', `${qualified} "${name}" already exists`, { name, group, kind: qualified.split('.')[0]! }),
  conflict: (qualified: string, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again', group = ''): StatusError =>
    new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified} "${name}": ${why}`, { name, group, kind: qualified.split('.')[0]! }),
  gone: (message: string): StatusError => new StatusError(410, 'Expired', message),
  invalid: (kind: string, name: string, causes: StatusCause[], group = ''): StatusError => {
    const summary = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ');
    const list = causes.length > 1 ? `[${summary}]` : summary;
    return new StatusError(422, 'Invalid', `${kind} "${name}" is invalid: ${list}`, { name, group, kind, causes });
  },
  tooLarge: (message = 'Request entity too large'): StatusError => new StatusError(413, 'RequestEntityTooLarge', message),
  unsupportedMediaType: (type: string, accepted = 'application/json, application/yaml, application/vnd.kubernetes.protobuf'): StatusError =>
    new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted} (got ${type})`),
  methodNotAllowed: (message: string): StatusError => new StatusError(405, 'MethodNotAllowed', message),
  tooManyRequests: (message: string, retryAfterSeconds = 1): StatusError =>
    new StatusError(429, 'TooManyRequests', message, { retryAfterSeconds }),
  internal: (message: string): StatusError => new StatusError(500, 'InternalError', message),
  unavailable: (message: string): StatusError => new StatusError(503, 'ServiceUnavailable', message),
};

/** A field error for `errors.invalid` in the Kubernetes vocabulary. */
export const causes = {
  required: (field: string): StatusCause => ({ reason: 'FieldValueRequired', message: 'Required value', field }),
  invalid: (field: string, value: unknown, detail: string): StatusCause =>
    ({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: ${detail}`, field }),
  notSupported: (field: string, value: unknown, supported: readonly string[]): StatusCause =>
    ({ reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${supported.map((s) => `"${s}"`).join(', ')}`, field }),
  duplicate: (field: string, value: unknown): StatusCause =>
    ({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(value)}`, field }),
  forbidden: (field: string, detail: string): StatusCause => ({ reason: 'FieldValueForbidden', message: `Forbidden: ${detail}`, field }),
  tooLong: (field: string, max: number): StatusCause =>
    ({ reason: 'FieldValueTooLong', message: `Too long: may not be more than ${max} bytes`, field }),
};

/**
 * Predicates over any thrown value, as client-go's apierrors.IsNotFound & co. A reason decides; a
 * Status without a known reason falls back to its HTTP code (as upstream does).
 */
function statusOf(err: unknown): StatusError | undefined {
  return err instanceof StatusError ? err : undefined;
}

function hasReason(err: unknown, reason: StatusReason, code: number): boolean {
  const s = statusOf(err);
  if (!s) return false;
  if (s.reason === reason) return true;
  return s.code === code && !KNOWN_REASONS_BY_CODE.get(code)?.includes(s.reason);
}

/** Reasons that may come with a code: a 409 that says AlreadyExists is not a Conflict, and so on. */
const KNOWN_REASONS_BY_CODE = new Map<number, readonly StatusReason[]>([
  [409, ['Conflict', 'AlreadyExists']],
  [410, ['Gone', 'Expired']],
]);

/** The object does not exist (404). */
export const isNotFound = (err: unknown): boolean => hasReason(err, 'NotFound', 404);
/** Create found an object of that name already (409 AlreadyExists). */
export const isAlreadyExists = (err: unknown): boolean => statusOf(err)?.reason === 'AlreadyExists';
/** The write lost a race: stale resourceVersion, failed precondition, already bound (409 Conflict). */
export const isConflict = (err: unknown): boolean => hasReason(err, 'Conflict', 409);
/** Not allowed, including into a terminating namespace (403). */
export const isForbidden = (err: unknown): boolean => hasReason(err, 'Forbidden', 403);
/** Unauthenticated (401). */
export const isUnauthorized = (err: unknown): boolean => hasReason(err, 'Unauthorized', 401);
/** A watch or list asked for a resourceVersion that was compacted away (410 Gone or Expired). */
export const isGone = (err: unknown): boolean => {
  const s = statusOf(err);
  return s !== undefined && (s.code === 410 || s.reason === 'Gone' || s.reason === 'Expired');
};
/** The object failed validation (422). */
export const isInvalid = (err: unknown): boolean => hasReason(err, 'Invalid', 422);
/** Malformed request (400). */
export const isBadRequest = (err: unknown): boolean => hasReason(err, 'BadRequest', 400);
/** Throttled (429); `retryAfterSeconds` says when to come back. */
export const isTooManyRequests = (err: unknown): boolean => hasReason(err, 'TooManyRequests', 429);
/** The server could not answer now (503). */
export const isServiceUnavailable = (err: unknown): boolean => hasReason(err, 'ServiceUnavailable', 503);
