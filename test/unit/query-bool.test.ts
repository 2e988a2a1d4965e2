/** Boolean query parameters read as Go's strconv.ParseBool reads them, with a 400 for anything else. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkBooleanQuery, parseGoBool, queryBool } from '../../api/query-bool.js';
import { StatusError } from '../../api/status.js';

test('the twelve spellings of strconv.ParseBool, and nothing else', () => {
  for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.is(parseGoBool(t), true, t);
  for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.is(parseGoBool(f), false, f);
  for (const x of ['', 'yes', 'no', 'tRUE', 'on', ' true', '2']) assert.is(parseGoBool(x), undefined, JSON.stringify(x));
});

test('queryBool: absent gives the fallback, a misspelling is 400 naming the parameter', () => {
  assert.is(queryBool(new URLSearchParams(''), 'stdout', true), true);
  assert.is(queryBool(new URLSearchParams('watch=True'), 'watch'), true);
  try {
    queryBool(new URLSearchParams('force=sure'), 'force');
    assert.unreachable();
  } catch (err) {
    assert.instance(err, StatusError);
    assert.is((err as StatusError).code, 400);
    assert.is((err as StatusError).message, 'invalid value for query parameter "force": strconv.ParseBool: parsing "sure": invalid syntax');
  }
  assert.throws(() => checkBooleanQuery(new URLSearchParams('labelSelector=a&tty=maybe')), /"tty"/);
  checkBooleanQuery(new URLSearchParams('watch=1&allowWatchBookmarks=true&unknownFlag=whatever'));
});

test.run();
