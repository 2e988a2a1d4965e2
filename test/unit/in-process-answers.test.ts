/**
 * In-process answers: the server's own controllers get a JSON answer's text from beside the Response
 * (no web stream), and a Response that a middleware rebuilds on the way out still reads correctly.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Hono } from 'hono';
import { InProcessTransport } from '../../api/client/transport.js';
import { sendObject } from '../../server/apiserver/negotiate.js';

const answers = suite('in-process answers');

const POD = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' } };

answers('an in-process caller reads the JSON answer, its status and content type', async () => {
  const app = new Hono();
  app.get('/x', (c) => sendObject(c, POD, 201));
  const res = await new InProcessTransport(app).request({ method: 'GET', path: '/x' });
  assert.is(res.status, 201);
  assert.is(res.headers['content-type'], 'application/json');
  assert.equal(JSON.parse(await res.text()), POD);
  const chunks: Uint8Array[] = [];
  for await (const chunk of res.body) chunks.push(chunk);
  assert.equal(JSON.parse(Buffer.concat(chunks).toString('utf8')), POD);
});

answers('a Response rebuilt by a middleware after the handler still carries the answer', async () => {
  const app = new Hono();
  app.use('*', async (c, next) => {
    await next();
    c.header('X-After', 'yes'); // Hono rebuilds a finalized Response to set a header on it
  });
  app.get('/x', (c) => sendObject(c, POD));
  const res = await new InProcessTransport(app).request({ method: 'GET', path: '/x' });
  assert.is(res.status, 200);
  assert.is(res.headers['x-after'], 'yes');
  assert.equal(JSON.parse(await res.text()), POD);
});

answers('an HTTP-style request (not from the in-process transport) gets the body in the Response', async () => {
  const app = new Hono();
  app.get('/x', (c) => sendObject(c, POD));
  const res = await app.fetch(new Request('http://in-process/x'));
  assert.equal(await res.json(), POD);
});

answers.run();
