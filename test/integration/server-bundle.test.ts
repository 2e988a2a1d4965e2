/**
 * The installed service runs `corral server` from the server bundle (installer/server-bundle.ts), not
 * from dist/: a server started from it comes up ready (its TLS material made by the certificate
 * issuer's child process, found through the bundled pki module's dist/ location), serves the status
 * page's assets, reads a YAML body (yaml is required at first use from node_modules), answers
 * /openapi/v2 in protobuf (protobufjs's light build, likewise) and runs its controllers.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { ServerProcess } from '../support/server-process.js';
import { SERVER_BUNDLE_DIR, SERVER_BUNDLE_ENTRY } from '../../installer/server-bundle.js';
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

test('the server bundle requires Node built-ins instead of importing them as ES modules', async () => {
  // An ES module import of a built-in reads every export, lazy ones included (tls.rootCertificates,
  // crypto.webcrypto...): installer/bundle.ts, builtinsThroughRequire. Only the banner's node:module is imported.
  const server = await ServerProcess.start({ asInstalled: true });
  await server.destroy();
  const files = readdirSync(SERVER_BUNDLE_DIR).filter((f) => f.endsWith('.js'));
  assert.ok(files.length > 1, `bundle files: ${files.join(', ')}`);
  for (const file of files) {
    const text = readFileSync(join(SERVER_BUNDLE_DIR, file), 'utf8');
    // esbuild's minified output: `from"node:fs"`, `import"x"`, `import("x")` (installer/bundle.ts holds a
    // template with `from 'node:zlib'` in single quotes, which is text, not an import).
    const imported = [...text.matchAll(/(?:\bfrom|\bimport\(?)"((?:node:)?[a-z_][a-z0-9_/]*)"/g)].map((m) => m[1]!)
      .filter((name) => name !== 'node:module' && isBuiltin(name));
    assert.equal(imported, [], `${file}: built-ins imported as ES modules: ${imported.join(', ')}`);
  }
  assert.ok(/[\w$]+\("node:tls"\)/.test(readFileSync(SERVER_BUNDLE_ENTRY, 'utf8')) || files.some((f) => /[\w$]+\("node:tls"\)/.test(readFileSync(join(SERVER_BUNDLE_DIR, f), 'utf8'))), 'node:tls required through the require shim');
});

test.run();
