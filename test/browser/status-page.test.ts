/**
 * The status page in real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core)
 * against a real `corral server` with hollow nodes: token login (kept in sessionStorage), nodes, pods,
 * workloads, services and warnings shown; a new pod appears through the watch streams without a
 * reload, also after a server restart; a viewer token sees everything but its delete is refused (403).
 * Screenshots (desktop and phone width) go to test-artifacts/.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Deployment, Node, Pod, Service } from '../../api/types.js';
import { StatusError } from '../../api/status.js';
import { HollowNode } from '../support/hollow-node.js';
import { ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const CHROMIUM = process.env['CORRAL_CHROMIUM'] ?? '/usr/bin/chromium';
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ARTIFACTS = join(REPO, 'test-artifacts');
const CLI = join(REPO, 'dist', 'cli', 'corral.js');

interface Ctx {
  server: ServerProcess;
  nodes: HollowNode[];
  context: BrowserContext;
  page: Page;
  profile: string;
}

const it = suite<Ctx>('status page');
/** Requests the page made to anything but loopback (there must be none). */
const outside: string[] = [];

const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> => waitUntil(what, fn, timeoutMs);

function pod(name: string, o: { nodeName?: string; cpu?: string } = {}): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: { app: name } },
    spec: {
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: o.cpu ?? '100m', memory: '32Mi' } } }],
    },
  };
}

/** A Pi whose memory cgroup is disabled and which stopped reporting: NotReady, never heartbeats. */
async function createBrokenPi(server: ServerProcess): Promise<void> {
  const node: Node = {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: 'pi-3', labels: { 'kubernetes.io/arch': 'arm64', 'kubernetes.io/os': 'linux', 'corral.dev/board': 'Raspberry-Pi-3-Model-B-Plus' } },
    spec: {},
  };
  await server.client.create<Node>('Node', undefined, node);
  const now = new Date().toISOString();
  const status: Node['status'] = {
    capacity: { cpu: '4', memory: '944Mi', pods: '110' },
    allocatable: { cpu: '4', memory: '944Mi', pods: '110' },
    nodeInfo: { architecture: 'arm64', operatingSystem: 'linux', kernelVersion: '6.1', osImage: 'Raspbian', containerRuntimeVersion: 'containerd://1.6', kubeletVersion: 'v1.32.0', kubeProxyVersion: 'v1.32.0', machineID: 'm', systemUUID: 's', bootID: 'b' },
    addresses: [{ type: 'InternalIP', address: '10.200.0.99' }],
    conditions: [
      { type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: 'container runtime is down', lastHeartbeatTime: now, lastTransitionTime: now },
      { type: 'CgroupMemoryDisabled', status: 'True', reason: 'MemoryCgroupDisabled', message: 'the memory cgroup controller is disabled: add cgroup_enable=memory cgroup_memory=1 to /boot/firmware/cmdline.txt', lastHeartbeatTime: now, lastTransitionTime: now },
      { type: 'Throttled', status: 'True', reason: 'CPUThrottled', message: 'the CPU is throttled: check cooling and power', lastHeartbeatTime: now, lastTransitionTime: now },
    ],
  };
  // A merge patch: the node lifecycle controller may have written the Node in between.
  await server.client.patchStatus('Node', undefined, 'pi-3', { status });
}

async function launchBrowser(profile: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 900 },
  });
}

async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.waitForSelector('#login-view:not([hidden])');
  await page.fill('#token', token);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#cluster-view:not([hidden])');
  await page.waitForSelector('#conn[data-state="live"]', { timeout: 20_000 });
}

it.before(async (ctx) => {
  try {
    await setUp(ctx);
  } catch (err) {
    // uvu swallows hook errors silently: say what went wrong.
    process.stderr.write(`status page set-up failed: ${(err as Error).stack ?? String(err)}\n`);
    throw err;
  }
});

async function setUp(ctx: Ctx): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM} (apt-get install chromium, or set CORRAL_CHROMIUM)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  ctx.server = await ServerProcess.start();
  const c = ctx.server.client;
  ctx.nodes = [
    await HollowNode.start(c, { name: 'n1', capacity: { cpu: '4', memory: '8Gi', pods: 110 }, labels: { 'kubernetes.io/arch': 'arm64', 'corral.dev/board': 'Raspberry-Pi-5-Model-B-Rev-1.0', 'corral.dev/temperature': '51.5' } }),
    await HollowNode.start(c, { name: 'n2', capacity: { cpu: '2', memory: '2Gi', pods: 110 }, labels: { 'corral.dev/board': 'Raspberry-Pi-4-Model-B-Rev-1.4' } }),
  ];
  await createBrokenPi(ctx.server);
  const deployment: Deployment = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
    spec: {
      replicas: 2, selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'httpd', image: 'busybox', resources: { requests: { cpu: '500m', memory: '256Mi' } } }] } },
    },
  };
  await c.create('Deployment', 'default', deployment);
  const service: Service = {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' },
    spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80, targetPort: 80, protocol: 'TCP' }] },
  };
  await c.create('Service', 'default', service);
  // A crash-looping pod on the broken Pi (its "kubelet" status written directly).
  await c.create<Pod>('Pod', 'default', pod('crashy', { nodeName: 'pi-3' }));
  const now = new Date().toISOString();
  const crashStatus: Pod['status'] = {
    phase: 'Running', startTime: now,
    conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: now }],
    containerStatuses: [{ name: 'c', image: 'busybox', imageID: '', ready: false, restartCount: 7, started: false,
      state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 5m0s restarting failed container' } } }],
  };
  await c.patchStatus('Pod', 'default', 'crashy', { status: crashStatus });
  await waitFor('web pods running', async () => {
    const pods = await c.list<Pod>('Pod', 'default', { labelSelector: 'app=web' });
    return pods.items.filter((p) => p.status?.phase === 'Running').length === 2;
  });
  ctx.profile = mkdtempSync(join(tmpdir(), 'corral-chromium-'));
  ctx.context = await launchBrowser(ctx.profile);
  ctx.page = ctx.context.pages()[0] ?? await ctx.context.newPage();
  // Only loopback: anything else the page tries to reach is blocked and fails the last test.
  await ctx.context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === '127.0.0.1' || u.protocol === 'data:') return route.continue();
    outside.push(u.href);
    return route.abort();
  });
}

it.after(async (ctx) => {
  for (const n of ctx.nodes ?? []) n.stop();
  await ctx.context?.close();
  await ctx.server?.destroy();
  if (ctx.profile) rmSync(ctx.profile, { recursive: true, force: true });
});

it('serves the page without a token but no data without one', async (ctx) => {
  const page = ctx.page;
  const response = await page.goto(`${ctx.server.url}/`);
  assert.is(response?.status(), 200);
  assert.match(response?.headers()['content-security-policy'] ?? '', /default-src 'none'/);
  const api = await page.evaluate("fetch('/api/v1/pods').then((r) => r.status)");
  assert.is(api, 401, 'the API needs a token even from the page');
});

it('rejects a wrong token, then signs in with the admin token kept in sessionStorage', async (ctx) => {
  const page = ctx.page;
  await page.goto(`${ctx.server.url}/`);
  await page.fill('#token', 'abc123.wrong');
  await page.click('#login button[type=submit]');
  // Locator waits, not waitForFunction: a string predicate is eval'd in the page on every poll, which the page's CSP
  // (no 'unsafe-eval') refuses as soon as the first check comes back false.
  await page.locator('#login-error', { hasText: /\S/ }).waitFor();
  assert.match(await page.textContent('#login-error') ?? '', /not accepted/);
  await signIn(page, ctx.server.url, ctx.server.token);
  assert.is(await page.evaluate("sessionStorage.getItem('corral.token')"), ctx.server.token);
});

it('shows nodes, pods per node, workloads, services and warnings', async (ctx) => {
  const page = ctx.page;
  await page.waitForSelector('.node[data-name="n1"]');
  const n1 = await page.textContent('.node[data-name="n1"]') ?? '';
  assert.match(n1, /Ready/);
  assert.match(n1, /arm64/);
  assert.match(n1, /Raspberry-Pi-5-Model-B-Rev-1.0/);
  assert.match(n1, /51\.5 °C/);
  await waitUntil('two web pods on the page', async () => await page.locator('.pod[data-name^="web-"]').count() === 2, 30_000);
  const webPods = await page.$$eval('.pod[data-name^="web-"]', (els) => els.map((e) => e.textContent ?? ''));
  for (const t of webPods) assert.match(t, /Running/);
  // Requests add up on the nodes that run them: 2 × 500m over the cluster.
  const usage = await page.$$eval('.node .usage', (els) => els.map((e) => e.textContent ?? '').join('\n'));
  assert.match(usage, /500m \/ [24]/);
  const pi = await page.getAttribute('.node[data-name="pi-3"]', 'class');
  assert.match(pi ?? '', /notready/);
  const warnings = await page.textContent('#warnings') ?? '';
  assert.match(warnings, /pi-3 is NotReady|pi-3 is Unknown/);
  assert.match(warnings, /memory cgroup disabled/);
  assert.match(warnings, /CPU throttled/);
  assert.match(warnings, /crashy: CrashLoopBackOff/);
  assert.match(await page.textContent('.pod[data-name="crashy"]') ?? '', /↻7/);
  await page.waitForSelector('#workloads tr[data-name="web"]');
  assert.match(await page.textContent('#workloads tr[data-name="web"]') ?? '', /Deployment.*2\/2/);
  const svc = await page.textContent('#services tr[data-name="web"]') ?? '';
  assert.match(svc, /NodePort/);
  assert.match(svc, /10\.43\.\d+\.\d+/);
  const href = await page.getAttribute('#services tr[data-name="web"] a', 'href');
  assert.match(href ?? '', /^http:\/\/127\.0\.0\.1:3\d{4}\/$/);
  await page.screenshot({ path: join(ARTIFACTS, 'status-desktop.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
  assert.ok(overflow <= 0, `the page is wider than a phone screen by ${overflow}px`);
  await page.screenshot({ path: join(ARTIFACTS, 'status-phone.png'), fullPage: true });
  const background = (): Promise<string> => page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
  const light = await background();
  await page.emulateMedia({ colorScheme: 'dark' });
  const dark = await background();
  assert.is.not(dark, light, 'the page follows prefers-color-scheme');
  await page.screenshot({ path: join(ARTIFACTS, 'status-phone-dark.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 900 });
});

it('shows a new pod without a reload, also after a server restart', async (ctx) => {
  const page = ctx.page;
  await page.evaluate('window.marker = 42');
  await ctx.server.client.create('Pod', 'default', pod('live-pod'));
  await page.waitForSelector('.pod[data-name="live-pod"]', { timeout: 10_000 });
  await ctx.server.restart();
  await page.waitForSelector('#conn[data-state="live"]', { timeout: 30_000 });
  await ctx.server.client.create('Pod', 'default', pod('after-restart'));
  await page.waitForSelector('.pod[data-name="after-restart"]', { timeout: 30_000 });
  assert.is(await page.evaluate('window.marker'), 42, 'the page was not reloaded');
});

it('a viewer token sees the cluster but cannot delete (403), exec or read Secrets', async (ctx) => {
  const created = spawnSync(process.execPath, [CLI, 'token', 'create', '--role', 'viewer', '--data-dir', ctx.server.dataDir], { encoding: 'utf8' });
  assert.is(created.status, 0, created.stderr);
  const viewerToken = created.stdout.trim();
  const page = await ctx.context.newPage();
  await signIn(page, ctx.server.url, viewerToken);
  await page.waitForSelector('.pod[data-name="live-pod"]');
  page.once('dialog', (d) => void d.accept());
  await page.click('.pod[data-name="live-pod"] button[data-action="delete-pod"]');
  await page.waitForSelector('#notice:not([hidden])');
  const notice = await page.textContent('#notice') ?? '';
  assert.match(notice, /Not allowed/);
  assert.match(notice, /cannot delete resource "pods" in API group "" in the namespace "default"/);
  assert.ok(await ctx.server.client.tryGet('Pod', 'default', 'live-pod'), 'the pod is still there');
  await page.screenshot({ path: join(ARTIFACTS, 'status-viewer-refused.png') });
  await page.close();

  const viewer = ctx.server.clientWithToken(viewerToken);
  const code = async (p: Promise<unknown>): Promise<number> => p.then(() => 200, (e: unknown) => (e instanceof StatusError ? e.code : -1));
  assert.is(await code(viewer.list('Pod', 'default')), 200);
  assert.is(await code(viewer.delete('Pod', 'default', 'live-pod')), 403);
  assert.is(await code(viewer.create('Pod', 'default', pod('by-viewer'))), 403);
  assert.is(await code(viewer.patch('Deployment', 'default', 'web', { spec: { replicas: 5 } })), 403);
  assert.is(await code(viewer.call('GET', '/api/v1/namespaces/default/pods/live-pod/exec?command=sh&stdout=true')), 403);
  assert.is(await code(viewer.call('GET', '/api/v1/namespaces/default/secrets')), 403);
  assert.is.not(await code(viewer.call('GET', '/api/v1/namespaces/default/pods/live-pod/log')), 403, 'logs are reading');

  // Revoking the token with the CLI while the server runs takes effect at once.
  const id = viewerToken.split('.')[0]!;
  const revoked = spawnSync(process.execPath, [CLI, 'token', 'revoke', id, '--data-dir', ctx.server.dataDir], { encoding: 'utf8' });
  assert.is(revoked.status, 0, revoked.stderr);
  await waitFor('the revoked token to be refused', async () => (await code(viewer.list('Pod', 'default'))) === 401, 5_000);
});

it('signing out forgets the token', async (ctx) => {
  const page = ctx.page;
  await page.click('#logout');
  await page.waitForSelector('#login-view:not([hidden])');
  assert.is(await page.evaluate("sessionStorage.getItem('corral.token')"), null);
  await page.reload();
  await page.waitForSelector('#login-view:not([hidden])');
  assert.ok(await page.isHidden('#cluster-view'));
  assert.equal(outside, [], 'the page reached only the server');
});

it.run();
