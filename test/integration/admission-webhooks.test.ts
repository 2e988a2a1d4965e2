/**
 * Admission webhooks inside a real `corral server`, against a real HTTPS webhook server process
 * (test/support/webhook-server.ts) reached through a Service's Endpoints on loopback, with its own CA
 * as the caBundle: a validating webhook denies a ConfigMap and a mutating webhook adds a label, only
 * in namespaces the namespaceSelector picks (and objects the objectSelector picks); a slow webhook is cut
 * at timeoutSeconds; with the webhook down, failurePolicy Fail refuses the
 * write (500) and Ignore lets it through; kubectl shows upstream's messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureTls } from '../../server/auth/pki.js';
import type { ConfigMap } from '../../api/types.js';
import { freePort, kubectl, ServerProcess, type KubectlResult } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const WEBHOOK_SERVER = join(dirname(fileURLToPath(import.meta.url)), '..', 'support', 'webhook-server.js');

interface Ctx { server: ServerProcess; dir: string; caPem: string; port: number; hook?: ChildProcess; hookLog: string }
const it = suite<Ctx>('admission webhooks');

async function k(server: ServerProcess, args: string[], input?: string): Promise<KubectlResult> {
  const r = await kubectl(server, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

async function startWebhook(ctx: Ctx): Promise<void> {
  const from = ctx.hookLog.length;
  const child = spawn(process.execPath, [WEBHOOK_SERVER, String(ctx.port), join(ctx.dir, 'server.crt'), join(ctx.dir, 'server.key')], { stdio: ['ignore', 'pipe', 'pipe'] });
  ctx.hook = child;
  child.stdout!.on('data', (d: Buffer) => { ctx.hookLog += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { ctx.hookLog += d.toString(); });
  await waitUntil('webhook server listening', async () => ctx.hookLog.slice(from).includes(`listening ${ctx.port}`), 10_000);
}

async function stopWebhook(ctx: Ctx): Promise<void> {
  const child = ctx.hook;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

function configurations(caPem: string, failurePolicy: 'Fail' | 'Ignore'): string {
  const hook = (name: string, path: string): string => `- name: ${name}
  clientConfig:
    service: {namespace: default, name: webhook, path: ${path}}
    caBundle: ${Buffer.from(caPem).toString('base64')}
  rules:
  - {operations: [CREATE, UPDATE], apiGroups: [""], apiVersions: [v1], resources: [configmaps]}
  namespaceSelector:
    matchLabels: {webhooks: enabled}
  failurePolicy: ${failurePolicy}
  sideEffects: None
  timeoutSeconds: 5
  admissionReviewVersions: [v1]
`;
  return `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: deny-forbidden}
webhooks:
${hook('deny.webhook.corral.dev', '/validate')}---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: add-label}
webhooks:
${hook('label.webhook.corral.dev', '/mutate')}`;
}

it.before(async (ctx) => {
  ctx.hookLog = '';
  ctx.dir = mkdtempSync(join(tmpdir(), 'corral-webhook-'));
  // The webhook's own CA and a serving certificate for webhook.default.svc (what corral checks).
  const tls = await ensureTls(ctx.dir, ['webhook.default.svc']);
  ctx.caPem = tls.caPem;
  ctx.port = await freePort();
  ctx.server = await ServerProcess.start();
  await startWebhook(ctx);
  await k(ctx.server, ['apply', '-f', '-'], `apiVersion: v1
kind: Service
metadata: {name: webhook, namespace: default}
spec:
  ports: [{name: https, port: 443, targetPort: ${ctx.port}}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: webhook, namespace: default}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: https, port: ${ctx.port}}]
---
apiVersion: v1
kind: Namespace
metadata:
  name: hooked
  labels: {webhooks: enabled}
`);
});

it.after(async (ctx) => {
  await stopWebhook(ctx);
  await ctx.server?.destroy();
  if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
});

it('configurations are validated, defaulted and listed with upstream columns', async ({ server, caPem }) => {
  const bad = await kubectl(server, ['apply', '-f', '-'], { input: `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: broken}
webhooks:
- name: short
  clientConfig: {url: "http://example.com/x"}
  admissionReviewVersions: [v1]
` });
  assert.is(bad.code, 1);
  assert.match(bad.stderr, 'webhooks[0].name: Invalid value: "short": should be a domain with at least three segments separated by dots');
  assert.match(bad.stderr, "webhooks[0].clientConfig.url: Invalid value: \"http://example.com/x\": 'https' is the only allowed URL scheme");
  assert.match(bad.stderr, 'webhooks[0].sideEffects: Required value');
  await k(server, ['apply', '-f', '-'], configurations(caPem, 'Fail'));
  const table = await k(server, ['get', 'validatingwebhookconfigurations,mutatingwebhookconfigurations']);
  assert.match(table.stdout, /deny-forbidden\s+1\s+/);
  assert.match(table.stdout, /add-label\s+1\s+/);
  const got = JSON.parse((await k(server, ['get', 'mutatingwebhookconfiguration', 'add-label', '-o', 'json'])).stdout) as { webhooks: { matchPolicy: string; reinvocationPolicy: string; objectSelector: unknown; clientConfig: { service: { port: number } } }[] };
  assert.is(got.webhooks[0]!.matchPolicy, 'Equivalent');
  assert.is(got.webhooks[0]!.reinvocationPolicy, 'Never');
  assert.equal(got.webhooks[0]!.objectSelector, {});
  assert.is(got.webhooks[0]!.clientConfig.service.port, 443);
});

it('a validating webhook denies a ConfigMap and a mutating webhook adds a label, in selected namespaces only', async ({ server }) => {
  await k(server, ['-n', 'hooked', 'create', 'configmap', 'fine', '--from-literal=a=b']);
  const fine = await server.client.get<ConfigMap>('ConfigMap', 'hooked', 'fine');
  assert.is(fine.metadata.labels?.['webhook.corral.dev/mutated'], 'yes', 'the mutating webhook\'s patch was applied');
  const denied = await kubectl(server, ['-n', 'hooked', 'create', 'configmap', 'nope', '--from-literal=forbidden=x']);
  assert.is(denied.code, 1);
  assert.match(denied.stderr, 'admission webhook "deny.webhook.corral.dev" denied the request: ConfigMaps may not carry the key "forbidden"');
  assert.is(await server.client.tryGet('ConfigMap', 'hooked', 'nope'), undefined);
  // An update is checked too.
  const update = await kubectl(server, ['-n', 'hooked', 'patch', 'configmap', 'fine', '-p', '{"data":{"forbidden":"y"}}']);
  assert.is(update.code, 1);
  assert.match(update.stderr, 'denied the request');
  // The namespaceSelector leaves other namespaces alone.
  await k(server, ['create', 'configmap', 'elsewhere', '--from-literal=forbidden=x']);
  const elsewhere = await server.client.get<ConfigMap>('ConfigMap', 'default', 'elsewhere');
  assert.is(elsewhere.metadata.labels, undefined);
});

it('with the webhook down: failurePolicy Fail refuses the write, Ignore lets it through', async (ctx) => {
  const { server } = ctx;
  await stopWebhook(ctx);
  const refused = await kubectl(server, ['-n', 'hooked', 'create', 'configmap', 'while-down', '--from-literal=a=b']);
  assert.is(refused.code, 1);
  assert.match(refused.stderr, /Internal error occurred: failed calling webhook "label\.webhook\.corral\.dev": failed to call webhook: Post "https:\/\/webhook\.default\.svc:443\/mutate\?timeout=5s": .*ECONNREFUSED/);
  assert.is(await server.client.tryGet('ConfigMap', 'hooked', 'while-down'), undefined);
  await k(server, ['apply', '-f', '-'], configurations(ctx.caPem, 'Ignore'));
  await k(server, ['-n', 'hooked', 'create', 'configmap', 'while-down', '--from-literal=forbidden=x']);
  const through = await server.client.get<ConfigMap>('ConfigMap', 'hooked', 'while-down');
  assert.is(through.metadata.labels, undefined, 'no mutation happened');
  // Back up, the webhooks apply again.
  await startWebhook(ctx);
  const again = await kubectl(server, ['-n', 'hooked', 'create', 'configmap', 'after', '--from-literal=forbidden=x']);
  assert.is(again.code, 1);
  assert.match(again.stderr, 'denied the request');
  assert.match(ctx.hookLog, '/validate CREATE after allowed=false');
});

it('timeoutSeconds bounds a slow webhook (Fail: 500, Ignore: through); objectSelector picks objects by label', async (ctx) => {
  const { server, caPem } = ctx;
  const slow = (policy: 'Fail' | 'Ignore'): string => `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: slow}
webhooks:
- name: slow.webhook.corral.dev
  clientConfig:
    service: {namespace: default, name: webhook, path: /slow}
    caBundle: ${Buffer.from(caPem).toString('base64')}
  rules:
  - {operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [serviceaccounts]}
  objectSelector:
    matchLabels: {checked: "yes"}
  failurePolicy: ${policy}
  sideEffects: None
  timeoutSeconds: 1
  admissionReviewVersions: [v1]
`;
  await k(server, ['apply', '-f', '-'], slow('Fail'));
  // Not selected by the objectSelector: the webhook is not called at all.
  await k(server, ['create', 'serviceaccount', 'unchecked']);
  assert.not.match(ctx.hookLog, '/slow CREATE unchecked', 'no call for an object the selector leaves out');
  const sa = (name: string): string => JSON.stringify({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, labels: { checked: 'yes' } } });
  const timedOut = await kubectl(server, ['create', '-f', '-'], { input: sa('checked-1') });
  assert.is(timedOut.code, 1);
  assert.match(timedOut.stderr, /failed calling webhook "slow\.webhook\.corral\.dev": failed to call webhook: Post "https:\/\/webhook\.default\.svc:443\/slow\?timeout=1s": context deadline exceeded/);
  assert.match(ctx.hookLog, '/slow CREATE checked-1', 'the selected object was sent');
  await k(server, ['apply', '-f', '-'], slow('Ignore'));
  await k(server, ['create', '-f', '-'], sa('checked-2'));
  assert.ok(await server.client.tryGet('ServiceAccount', 'default', 'checked-2'));
  await k(server, ['delete', 'validatingwebhookconfiguration', 'slow']);
});

it('a webhook behind a wrong CA is a failed call, not a pass', async ({ server }) => {
  await k(server, ['apply', '-f', '-'], `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: wrong-ca}
webhooks:
- name: wrong-ca.webhook.corral.dev
  clientConfig:
    service: {namespace: default, name: webhook, path: /validate}
    caBundle: ${Buffer.from(server.caPem).toString('base64')}
  rules:
  - {operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [secrets]}
  failurePolicy: Fail
  sideEffects: None
  admissionReviewVersions: [v1]
`);
  const r = await kubectl(server, ['create', 'secret', 'generic', 's1', '--from-literal=a=b']);
  assert.is(r.code, 1);
  assert.match(r.stderr, 'failed calling webhook "wrong-ca.webhook.corral.dev"');
  assert.match(r.stderr, /certificate|signature/, r.stderr);
  await k(server, ['delete', 'validatingwebhookconfiguration', 'wrong-ca']);
  await k(server, ['create', 'secret', 'generic', 's1', '--from-literal=a=b']);
});

it.run();
