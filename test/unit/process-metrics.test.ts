/**
 * The server and its local agent share one process, so prom-client's process metrics (and their
 * event-loop monitor) exist once per process and both endpoints expose that one set
 * (api/metrics/process-metrics.ts). A second `collectDefaultMetrics` in either half would make the merge
 * of its exposed registry throw here on the duplicate names.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { processMetrics } from '../../api/metrics/process-metrics.js';
import { ApiserverMetrics } from '../../server/apiserver/request-metrics.js';
import { AgentMetrics } from '../../agent/metrics/agent-metrics.js';

test('one set of process metrics per process, exposed by the server and the local agent alike', async () => {
  assert.is(processMetrics(), processMetrics(), 'made once');
  const server = await new ApiserverMetrics().exposition();
  const secondServer = await new ApiserverMetrics().exposition();
  const agent = await new AgentMetrics(() => ({ pods: 0, containers: 0 })).exposition();
  for (const [who, body] of [['server', server.body], ['second server', secondServer.body], ['agent', agent.body]] as const) {
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes']) {
      const typeLines = body.split('\n').filter((l) => l === `# TYPE ${name} ${l.split(' ').pop()}` && l.startsWith(`# TYPE ${name} `));
      assert.is(typeLines.length, 1, `${who} exposes ${name} once`);
    }
  }
  assert.ok(server.body.includes('# TYPE apiserver_request_total counter'), 'the server\'s own metrics are there too');
  assert.ok(agent.body.includes('# TYPE kubelet_running_pods gauge'), 'the agent\'s own metrics are there too');
});

test.run();
