import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { humanBytes, renderStatus } from '../../cli/status.js';
import type { Node, Pod } from '../../api/types.js';

test('humanBytes picks the largest binary unit with one decimal below 100', () => {
  assert.is(humanBytes(0), '0');
  assert.is(humanBytes(900), '900');
  assert.is(humanBytes(1024), '1Ki');
  assert.is(humanBytes(1536), '1.5Ki');
  assert.is(humanBytes(512 * 1024 ** 2), '512Mi');
  assert.is(humanBytes(1228 * 1024 ** 2), '1.2Gi');
  assert.is(humanBytes(24641536 * 1024), '23.5Gi');
  assert.is(humanBytes(1023.97 * 1024 ** 2), '1Gi');
  assert.is(humanBytes(3 * 1024 ** 4), '3Ti');
  assert.is(humanBytes(-2048), '-2Ki');
  assert.is(humanBytes(Number.NaN), '-');
});

test('corral status prints node memory in human units, not raw Ki', () => {
  const now = Date.parse('2026-12-05T12:00:00Z');
  const node: Node = {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: 'pi-1', creationTimestamp: '2026-12-05T11:00:00Z' },
    status: {
      allocatable: { cpu: '4', memory: '24641536Ki', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  } as Node;
  const pod: Pod = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', creationTimestamp: '2026-12-05T11:30:00Z' },
    spec: { nodeName: 'pi-1', containers: [{ name: 'c', image: 'busybox', resources: { requests: { cpu: '500m', memory: '1228Mi' } } }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  } as Pod;
  const screen = renderStatus({ nodes: [node], pods: [pod], events: [], now });
  const row = screen.split('\n').find((l) => l.startsWith('pi-1'));
  assert.ok(row, screen);
  assert.match(row!, /\b1\.2Gi\/23\.5Gi 5%/);
  assert.not.match(screen, /Ki\b/);
});

test.run();
