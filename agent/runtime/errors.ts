/**
 * Typed errors of the containerd driver. Callers branch on `code`, never on message text: the pod loop
 * turns `Unreachable` into a Node condition and retries, treats `NotFound` on delete as done, and so on.
 */

export type RuntimeErrorCode =
  /** The containerd socket is missing, refuses connections, or the dial timed out. */
  | 'Unreachable'
  /** The container, task, image or process does not exist (or the task already exited). */
  | 'NotFound'
  /** A container or snapshot with that id exists already. */
  | 'AlreadyExists'
  /** The object is in the wrong state for the call, e.g. deleting a task that still runs. */
  | 'FailedPrecondition'
  /** The call exceeded its time limit and was killed. */
  | 'Timeout'
  /** The caller's AbortSignal fired. */
  | 'Aborted'
  /** A registry refused the credentials or the image reference does not resolve. */
  | 'ImagePull'
  /** The arguments were rejected before reaching containerd (bad id, missing file, ...). */
  | 'InvalidArgument'
  /** Anything else: the message carries ctr's own words. */
  | 'Failed';

export class RuntimeError extends Error {
  override readonly name = 'RuntimeError';
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
    /** The ctr sub-command that failed, e.g. "task kill", for log lines. */
    readonly operation?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isRuntimeError(err: unknown, code?: RuntimeErrorCode): err is RuntimeError {
  return err instanceof RuntimeError && (code === undefined || err.code === code);
}

/** Maps ctr's stderr to an error code; ctr exits 1 for every failure, so the text is all there is. */
export function classifyCtrError(stderr: string): RuntimeErrorCode {
  const text = stderr.toLowerCase();
  if (text.includes('failed to dial') || text.includes('connection refused') || text.includes('transport: error while dialing')) {
    return 'Unreachable';
  }
  if (text.includes('already exists')) return 'AlreadyExists';
  if (text.includes('failed precondition')) return 'FailedPrecondition';
  if (text.includes('not found') || text.includes('no such process') || text.includes('process already finished')) return 'NotFound';
  if (
    text.includes('failed to resolve reference') ||
    text.includes('unexpected status') ||
    text.includes('unauthorized') ||
    text.includes('failed to fetch') ||
    text.includes('failed to do request')
  ) {
    return 'ImagePull';
  }
  if (text.includes('invalid') || text.includes('no such file or directory')) return 'InvalidArgument';
  return 'Failed';
}
