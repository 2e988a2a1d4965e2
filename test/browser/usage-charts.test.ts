/**
 * The status page's per-node CPU and memory charts in real headless Chromium (/usr/bin/chromium via
 * playwright-core) against a real `corral server` and a real `corral agent` on loopback (no
 * controllers, so the agent touches no network configuration): the server reads the agent's usage
 * every second here, the page draws the last hour from /ui/usage as two small SVG charts on the node's
 * card, with the current value against the node's capacity, they grow as readings arrive without a
 * reload, and they fit a phone's width (screenshot in test-artifacts/).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { AgentProcess } from '../support/agent-process.js';
import { ServerProcess } from '../support/server-process.js';
import { waitUntil } from '../support/wait.js';

const CHROMIUM = process.env['CORRAL_CHROMIUM'] ?? '/usr/bin/chromium';
const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test-artifacts');
const NODE = 'chart-node';
const CARD = `.node[data-name="${NODE}"]`;

interface Ctx { server: ServerProcess; agent: AgentProcess; context: BrowserContext; page: Page; profile: string }
const it = suite<Ctx>('status page usage charts');

it.before(async (ctx) => {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM} (apt-get install chromium, or set CORRAL_CHROMIUM)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'], env: { CORRAL_METRICS_RESOLUTION_SECONDS: '1' } });
  ctx.agent = await AgentProcess.start(ctx.server, { nodeName: NODE });
  ctx.profile = mkdtempSync(join(tmpdir(), 'corral-chromium-'));
  ctx.context = await chromium.launchPersistentContext(ctx.profile, {
    executablePath: CHROMIUM, headless: true, ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // Only loopback: anything else the page tries to reach is refused.
  await ctx.context.route('**/*', (route) => (new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : route.abort()));
  ctx.page = ctx.context.pages()[0] ?? await ctx.context.newPage();
});

it.after(async (ctx) => {
  await ctx.context?.close();
  await ctx.agent?.destroy();
  await ctx.server?.destroy();
  if (ctx.profile) rmSync(ctx.profile, { recursive: true, force: true });
});

const pointsOf = async (page: Page, kind: string): Promise<number> =>
  Number(await page.getAttribute(`${CARD} .chart[data-kind="${kind}"]`, 'data-points'));

it('the node card shows CPU and memory charts of the last hour that grow without a reload', async ({ server, page }) => {
  await page.goto(`${server.url}/`);
  await page.waitForSelector('#login-view:not([hidden])');
  await page.fill('#token', server.token);
  await page.click('#login button[type=submit]');
  // 'attached', not Playwright's default 'visible': a steady reading draws a level line, whose box
  // (stroke excluded) has no height, and Playwright calls an element with an empty box hidden. The
  // chart itself must be visible; the line's points are asserted below.
  for (const kind of ['cpu', 'memory']) {
    await page.waitForSelector(`${CARD} .chart[data-kind="${kind}"] svg polyline`, { state: 'attached', timeout: 30_000 });
    assert.ok(await page.locator(`${CARD} .chart[data-kind="${kind}"] svg`).isVisible(), `${kind} chart is shown`);
  }
  const firstCount = await pointsOf(page, 'cpu');
  assert.ok(firstCount >= 1);

  // A reading a second: the charts gain points while the page stays open.
  await waitUntil('the chart to gain readings', async () => (await pointsOf(page, 'cpu')) >= firstCount + 3, 30_000, 250);
  const line = await page.getAttribute(`${CARD} .chart[data-kind="cpu"] polyline`, 'points') ?? '';
  const xy = line.trim().split(' ').map((p) => p.split(',').map(Number));
  assert.ok(xy.length >= 4, line);
  for (const [x, y] of xy) assert.ok(x! >= 0 && x! <= 300 && y! >= 0 && y! <= 60, `point ${x},${y} is inside the 300×60 chart`);
  // Time runs left to right, the newest reading at the right edge (now).
  assert.ok(xy.every((p, i) => i === 0 || p[0]! >= xy[i - 1]![0]!), line);
  assert.ok(xy.at(-1)![0]! > 295, `the newest point is at the right edge: ${line}`);

  const cpuLabel = await page.getAttribute(`${CARD} .chart[data-kind="cpu"] svg`, 'aria-label') ?? '';
  assert.match(cpuLabel, /^CPU in use over the last hour: \S+ now, peak \S+ of \d+(\.\d+)?$/);
  const memory = await page.textContent(`${CARD} .chart[data-kind="memory"] figcaption`) ?? '';
  assert.match(memory, /Memory in use\s*[\d.]+[KMG]i of [\d.]+[KMG]i/);
  await page.screenshot({ path: join(ARTIFACTS, 'status-charts-desktop.png'), fullPage: true });
});

it('on a phone the charts fit the card and the page does not scroll sideways', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
  assert.ok(overflow <= 0, `the page is wider than a phone screen by ${overflow}px`);
  const card = (await page.locator(CARD).boundingBox())!;
  for (const kind of ['cpu', 'memory']) {
    const box = (await page.locator(`${CARD} .chart[data-kind="${kind}"] svg`).boundingBox())!;
    assert.ok(box.x >= card.x && box.x + box.width <= card.x + card.width, `${kind} chart inside the card`);
    assert.ok(box.width >= 120 && box.height >= 30, `${kind} chart is readable: ${box.width}×${box.height}`);
  }
  await page.screenshot({ path: join(ARTIFACTS, 'status-charts-phone.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
});

it.run();
