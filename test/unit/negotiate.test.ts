/**
 * Response negotiation and the protobuf body gate: which encoding a client gets for which Accept, and
 * what a kind without a protobuf schema (a custom resource) answers.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { responseFormat } from '../../server/apiserver/negotiate.js';
import { decodeObject } from '../../server/apiserver/body.js';
import { StatusError } from '../../api/status.js';

const PROTOBUF = 'application/vnd.kubernetes.protobuf';

function statusOf(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, StatusError);
    return err as StatusError;
  }
  return assert.unreachable('expected a StatusError') as never;
}

const negotiate = suite('negotiate: response format');

negotiate('client-go typed clients (protobuf first, JSON fallback) get protobuf for built-in kinds', () => {
  assert.is(responseFormat(`${PROTOBUF},application/json`, 'apps/v1', 'Deployment'), 'protobuf');
  assert.is(responseFormat(`${PROTOBUF}, */*`, 'v1', 'PodList'), 'protobuf');
  assert.is(responseFormat(PROTOBUF, 'v1', 'Status'), 'protobuf');
});

negotiate('JSON first, no Accept, wildcards, Tables and unknown types get JSON', () => {
  assert.is(responseFormat(undefined, 'v1', 'Pod'), 'json');
  assert.is(responseFormat('', 'v1', 'Pod'), 'json');
  assert.is(responseFormat(`application/json,${PROTOBUF}`, 'v1', 'Pod'), 'json');
  assert.is(responseFormat('*/*', 'v1', 'Pod'), 'json');
  assert.is(responseFormat('application/json;as=Table;v=v1;g=meta.k8s.io,application/json', 'v1', 'Pod'), 'json');
  assert.is(responseFormat('text/html', 'v1', 'Pod'), 'json');
});

negotiate('q-values order the ranges', () => {
  assert.is(responseFormat(`application/json;q=0.5,${PROTOBUF}`, 'v1', 'Pod'), 'protobuf');
  assert.is(responseFormat(`${PROTOBUF};q=0,application/json`, 'v1', 'Pod'), 'json');
});

negotiate('a kind without a schema falls back to JSON, or is 406 when only protobuf is acceptable', () => {
  assert.is(responseFormat(`${PROTOBUF},application/json`, 'example.com/v1', 'Widget'), 'json');
  const err = statusOf(() => responseFormat(PROTOBUF, 'example.com/v1', 'Widget'));
  assert.equal([err.code, err.reason], [406, 'NotAcceptable']);
});

negotiate.run();

const gate = suite('body: protobuf bodies by kind');

gate('a protobuf body for a kind without a schema is 415, as upstream answers for custom resources', () => {
  const err = statusOf(() => decodeObject(Uint8Array.from([0x6b, 0x38, 0x73, 0x00]), PROTOBUF, { group: 'example.com', version: 'v1', kind: 'Widget' }));
  assert.equal([err.code, err.reason], [415, 'UnsupportedMediaType']);
  assert.match(err.message, /accepted media types include: application\/json, application\/yaml \(got application\/vnd\.kubernetes\.protobuf\)/);
});

gate('a malformed protobuf body for a built-in kind is 400', () => {
  const err = statusOf(() => decodeObject(Uint8Array.from([0x6b, 0x38, 0x73, 0x00, 0x0a, 0x7f]), PROTOBUF, { group: '', version: 'v1', kind: 'Pod' }));
  assert.equal([err.code, err.reason], [400, 'BadRequest']);
});

gate.run();
