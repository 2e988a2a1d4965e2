/**
 * Fuzz: random upgrade (and plain) requests against the kubelet endpoint of a real `corral agent`,
 * with its token, a wrong one and none. Passes when no answer is a 5xx, nothing was logged at error
 * level, the agent is alive and still serves an authorized request, and its RSS came back under a
 * bound. Before the fix one bad escape (`/exec/%ZZ/b/c`) killed the agent.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ServerProcess } from '../support/server-process.js';
import { AgentProcess } from '../support/agent-process.js';
import { fuzzCount, fuzzSeed, kubeletTarget, rawRequest, Rng, rssMiB, runCases, upgradeHeaders } from '../support/fuzz.js';
import { waitUntil } from '../support/wait.js';

const it = suite<{ server: ServerProcess; agent: AgentProcess }>('fuzz-kubelet-upgrades');
const RSS_GROWTH_BOUND_MIB = 100;

it.before(async (ctx) => {
  ctx.server = await ServerProcess.start({ extraArgs: ['--disable-controllers'] });
  ctx.agent = await AgentProcess.start(ctx.server, { nodeName: 'fuzz-kubelet' });
});

it.after(async (ctx) => {
  await ctx.agent?.destroy();
  await ctx.server?.destroy();
});

it('random upgrade requests: no 5xx, agent alive and serving, memory bounded', async ({ agent }) => {
  const seed = fuzzSeed('kubelet-upgrades');
  const count = fuzzCount(1000);
  const rng = new Rng(seed);
  const pid = agent.child.pid!;
  const rssBefore = rssMiB(pid);
  const tokens = [agent.kubeletToken, agent.kubeletToken, 'wrong', undefined];
  const failures: string[] = [];
  await runCases(rng, count, 6, async (r, index) => {
    const token = r.pick(tokens);
    const target = kubeletTarget(r);
    const headers = { ...(r.chance(0.85) ? upgradeHeaders(r) : {}), ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) };
    const method = r.chance(0.9) ? 'GET' : r.pick(['POST', 'PUT', 'DELETE', 'OPTIONS']);
    const reply = await rawRequest({ port: agent.kubeletPort, method, target, headers, readMs: 1500 });
    if (reply.status >= 500) failures.push(`case ${index}: ${method} ${target} ${JSON.stringify(headers)} → ${reply.status} ${reply.body.toString('utf8').slice(0, 200)}`);
  });
  assert.equal(failures, [], `seed ${seed}: ${failures.length} requests got a 5xx:\n${failures.slice(0, 20).join('\n')}`);
  assert.ok(agent.alive, `seed ${seed}: the agent exited:\n${agent.logs.slice(-3000)}`);
  const errors = agent.logs.split('\n').filter((l) => l.includes('"level":"error"') && l.includes('"component":"kubelet"'));
  assert.equal(errors, [], `seed ${seed}: error-level log lines:\n${errors.slice(0, 5).join('\n')}`);
  const served = await rawRequest({ port: agent.kubeletPort, method: 'GET', target: '/containerLogs/default/web/c', headers: { authorization: `Bearer ${agent.kubeletToken}` } });
  assert.is(served.status, 400, `an authorized request after the run: ${served.head}`);
  assert.match(served.body.toString('utf8'), 'is waiting to start');
  const rss = await waitUntil('the agent\'s RSS to come back under the bound', async () => {
    const now = rssMiB(pid);
    return now < rssBefore + RSS_GROWTH_BOUND_MIB ? now : undefined;
  }, 30_000, 500).catch(() => rssMiB(pid));
  assert.ok(rss < rssBefore + RSS_GROWTH_BOUND_MIB, `RSS ${rss.toFixed(0)} MiB after the run, ${rssBefore.toFixed(0)} MiB before`);
});

it.run();
