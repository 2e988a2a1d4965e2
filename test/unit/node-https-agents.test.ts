/**
 * server/apiserver/node-https-agents.ts: one kept agent per node, replaced when the node's address or
 * certificate changes, dropped when unused for ten minutes (the connection reuse itself:
 * integration/metrics-api).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Agent } from 'node:https';
import { NodeHttpsAgents } from '../../server/apiserver/node-https-agents.js';

const endpoint = { host: '10.0.0.5', port: 10250, certPem: 'cert-1' };

/** Records whether `agent.destroy()` was called (http.Agent keeps no such flag). */
function watchDestroy(agent: Agent): { destroyed: boolean } {
  const seen = { destroyed: false };
  const destroy = agent.destroy.bind(agent);
  agent.destroy = () => {
    seen.destroyed = true;
    destroy();
  };
  return seen;
}

test('the same agent for the same endpoint; a new one, the old destroyed, when the certificate or address changes', () => {
  const agents = new NodeHttpsAgents();
  const first = agents.agentFor('n1', endpoint, 0);
  const firstDestroyed = watchDestroy(first);
  assert.is(agents.agentFor('n1', { ...endpoint }, 1_000), first);
  assert.is.not(agents.agentFor('n2', endpoint, 1_000), first, 'one per node');
  const rotated = agents.agentFor('n1', { ...endpoint, certPem: 'cert-2' }, 2_000);
  assert.is.not(rotated, first);
  assert.is(firstDestroyed.destroyed, true);
  assert.is(agents.agentFor('n1', { ...endpoint, certPem: 'cert-2' }, 2_500), rotated);
  const moved = agents.agentFor('n1', { ...endpoint, certPem: 'cert-2', host: '10.0.0.6' }, 3_000);
  assert.is.not(moved, rotated);
  assert.is(agents.size(), 2);
  agents.destroy();
  assert.is(agents.size(), 0);
});

test('an agent no GET used for ten minutes is dropped (a deleted node), the others stay', () => {
  const agents = new NodeHttpsAgents();
  const gone = watchDestroy(agents.agentFor('deleted', endpoint, 0));
  agents.agentFor('n1', endpoint, 0);
  agents.agentFor('n1', endpoint, 9 * 60_000);
  agents.agentFor('n1', endpoint, 10 * 60_000 + 1);
  assert.is(agents.size(), 1);
  assert.is(gone.destroyed, true);
  agents.destroy();
});

test.run();
