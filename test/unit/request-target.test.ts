/**
 * isMalformedHost (api/request-target.ts) keeps the hosts it found well formed: asking again, and past
 * the size of what it keeps, must answer as the first time, and a bad host is refused every time.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isMalformedHost } from '../../api/request-target.js';

const good = ['127.0.0.1:6443', 'example.com', '[::1]:443', 'a-b.c_d:1', 'localhost'];
const bad = ['', 'a b', 'x/y', 'host:port:extra]', '[::1', 'é.example', 'a\u0000b'];

test('the same answers asked again, and after more hosts than it keeps', () => {
  for (let round = 0; round < 3; round++) {
    for (const h of good) assert.not.ok(isMalformedHost(h), h);
    for (const h of bad) assert.ok(isMalformedHost(h), JSON.stringify(h));
    for (let i = 0; i < 200; i++) assert.not.ok(isMalformedHost(`node-${i}.example:${1000 + i}`));
  }
  assert.not.ok(isMalformedHost(undefined));
});

test.run();
