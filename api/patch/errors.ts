/**
 * The one error every patch function throws. The API server turns it into a Status:
 * 400 BadRequest for a malformed patch, 409 Conflict when a patch was well formed but one of its
 * preconditions did not hold (a failed JSON-patch `test`).
 */
import { StatusError } from '../status.js';

export type PatchErrorReason = 'BadRequest' | 'Conflict';

export class PatchError extends Error {
  override name = 'PatchError';
  readonly reason: PatchErrorReason;

  constructor(message: string, reason: PatchErrorReason = 'BadRequest') {
    super(message);
    this.reason = reason;
  }

  /** The HTTP status the server should answer with. */
  get code(): 400 | 409 {
    return this.reason === 'Conflict' ? 409 : 400;
  }

  toStatusError(): StatusError {
    return new StatusError(this.code, this.reason, this.message);
  }
}
