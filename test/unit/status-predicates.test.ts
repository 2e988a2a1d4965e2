import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  errors, isAlreadyExists, isBadRequest, isConflict, isForbidden, isGone, isInvalid, isNotFound, isServiceUnavailable,
  isTooManyRequests, isUnauthorized, StatusError,
} from '../../api/status.js';

test('each predicate matches its own Status and no other', () => {
  const cases: [StatusError, (e: unknown) => boolean][] = [
    [errors.notFound('pods', 'x'), isNotFound],
    [errors.alreadyExists('pods', 'x'), isAlreadyExists],
    [errors.conflict('pods', 'x'), isConflict],
    [errors.forbidden('no'), isForbidden],
    [errors.unauthorized(), isUnauthorized],
    [errors.gone('too old resource version'), isGone],
    [errors.invalid('Pod', 'x', [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec' }]), isInvalid],
    [errors.badRequest('bad'), isBadRequest],
    [errors.tooManyRequests('slow down'), isTooManyRequests],
    [errors.unavailable('later'), isServiceUnavailable],
  ];
  const predicates = cases.map(([, p]) => p);
  for (const [err, own] of cases) {
    for (const p of predicates) assert.is(p(err), p === own, `${p.name || 'predicate'} on ${err.reason}`);
  }
});

test('409: AlreadyExists is not a Conflict; a 409 without a known reason counts as a Conflict (as client-go)', () => {
  assert.not.ok(isConflict(errors.alreadyExists('pods', 'x')));
  assert.not.ok(isAlreadyExists(errors.conflict('pods', 'x')));
  const bare = StatusError.fromStatus({}, 409);
  assert.ok(isConflict(bare));
  assert.not.ok(isAlreadyExists(bare));
  assert.ok(isNotFound(StatusError.fromStatus({}, 404)));
});

test('anything that is not a StatusError matches nothing', () => {
  for (const v of [new Error('404'), { code: 404 }, undefined, 'NotFound']) {
    assert.not.ok(isNotFound(v) || isConflict(v) || isAlreadyExists(v) || isGone(v) || isForbidden(v));
  }
});

test.run();
