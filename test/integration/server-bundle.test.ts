/**
 * The installed service runs `corral server` from the server bundle (installer/server-bundle.ts), not
 * from dist/: a server started from it comes up ready (its TLS material made by the certificate
 * issuer's child process, found through the bundled pki module's dist/ location), serves the status
 * page's assets, reads a YAML body (yaml is required at first use from node_modules), answers
 * /openapi/v2 in protobuf (protobufjs's light build, likewise) and runs its controllers.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { ServerProcess } from '../support/server-process.js';
import { SERVER_BUNDLE_ENTRY } from '../../installer/server-bundle.js';
import { waitUntil } from '../support/wait.js';
import { HttpsTransport } from '../../api/client/transport.js';

test('`corral server` from the server bundle: ready, status page, YAML and protobuf bodies, controllers', async () => {
  const server = await ServerProcess.start({ asInstalled: true });
  try {
    assert.ok(existsSync(SERVER_BUNDLE_ENTRY), 'ServerProcess ran the bundle it built');
    assert.ok(server.child?.spawnargs.includes(SERVER_BUNDLE_ENTRY), `the server runs the bundle: ${server.child?.spawnargs.join(' ')}`);
    const http = new HttpsTransport({ server: server.url, caPem: server.caPem, token: server.token });
    try {
      const page = await http.request({ method: 'GET', path: '/' });
      const html = await page.text();
      assert.is(page.status, 200, html.slice(0, 200));
      assert.match(html, /<html/i);
      const yaml = await http.request({
        method: 'POST', path: '/api/v1/namespaces/default/configmaps',
        headers: { 'content-type': 'application/yaml' }, body: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: "1"\n',
      });
      assert.is(yaml.status, 201, await yaml.text());
      const proto = await http.request({ method: 'GET', path: '/openapi/v2', headers: { accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' } });
      const body = await proto.text();
      assert.is(proto.status, 200, body.slice(0, 200));
      assert.match(proto.headers['content-type'] ?? '', /protobuf/);
      assert.ok(body.length > 1000, `protobuf OpenAPI document: ${body.length} bytes`);
    } finally {
      http.close();
    }
    await server.client.create('Deployment', 'default', {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
    });
    await waitUntil('a ReplicaSet of the Deployment', async () => (await server.client.list('ReplicaSet', 'default')).items.length === 1, 10_000, 50);
  } finally {
    await server.destroy();
  }
});

test.run();
