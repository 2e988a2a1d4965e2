import { StatusError } from '../../api/status.js';

/** The StatusError a call is refused with; throws if it succeeds or fails any other way. */
export async function refusalOf(p: Promise<unknown>, expected = 'expected a refusal'): Promise<StatusError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof StatusError) return err;
    throw err;
  }
  throw new Error(expected);
}
