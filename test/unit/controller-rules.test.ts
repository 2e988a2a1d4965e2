/**
 * The pure rules inside controllers-B's controllers: CronJob schedules (time zones, day-of-month vs
 * day-of-week, descriptors, @every, missed times), NoExecute eviction timing, Job back-off,
 * Endpoints subsets, DaemonSet node placement.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mostRecentScheduleTime, parseSchedule } from '../../server/controllers/cronjob.js';
import { evictionTimeMs } from '../../server/controllers/node-lifecycle.js';
import { backoffDelayMs } from '../../server/controllers/job.js';
import { computeSubsets } from '../../server/controllers/endpoints.js';
import { nodePlacement } from '../../server/controllers/daemonset.js';
import type { DaemonSet, Node, Pod, Service, Taint } from '../../api/types.js';

const iso = (ms: number | undefined): string => (ms === undefined ? 'none' : new Date(ms).toISOString());

test('every minute and every 15 minutes', () => {
  const t = Date.parse('2024-03-05T10:07:30Z');
  assert.is(iso(parseSchedule('*/1 * * * *', 'UTC').next(t)), '2024-03-05T10:08:00.000Z');
  assert.is(iso(parseSchedule('*/15 * * * *', 'UTC').next(t)), '2024-03-05T10:15:00.000Z');
  assert.is(iso(parseSchedule('*/15 * * * *', 'UTC').next(Date.parse('2024-03-05T10:15:00Z'))), '2024-03-05T10:30:00.000Z', 'strictly after');
});

test('descriptors, month/day rollover and day-of-week', () => {
  assert.is(iso(parseSchedule('@daily', 'UTC').next(Date.parse('2024-12-31T23:59:00Z'))), '2025-01-01T00:00:00.000Z');
  assert.is(iso(parseSchedule('@monthly', 'UTC').next(Date.parse('2024-02-10T00:00:00Z'))), '2024-03-01T00:00:00.000Z');
  // 2024-03-05 is a Tuesday: next Monday 09:30 is the 11th.
  assert.is(iso(parseSchedule('30 9 * * mon', 'UTC').next(Date.parse('2024-03-05T12:00:00Z'))), '2024-03-11T09:30:00.000Z');
  // Both day fields restricted: either matches (the 15th, or a Monday — here Monday the 11th comes first).
  assert.is(iso(parseSchedule('0 0 15 * 1', 'UTC').next(Date.parse('2024-03-05T12:00:00Z'))), '2024-03-11T00:00:00.000Z');
  assert.is(iso(parseSchedule('0 0 29 2 *', 'UTC').next(Date.parse('2024-03-01T00:00:00Z'))), '2028-02-29T00:00:00.000Z');
});

test('time zones', () => {
  // 09:00 in Berlin (UTC+1 in winter, UTC+2 in summer).
  assert.is(iso(parseSchedule('0 9 * * *', 'Europe/Berlin').next(Date.parse('2024-01-10T00:00:00Z'))), '2024-01-10T08:00:00.000Z');
  assert.is(iso(parseSchedule('0 9 * * *', 'Europe/Berlin').next(Date.parse('2024-07-10T00:00:00Z'))), '2024-07-10T07:00:00.000Z');
  assert.is(iso(parseSchedule('CRON_TZ=America/New_York 0 9 * * *').next(Date.parse('2024-01-10T00:00:00Z'))), '2024-01-10T14:00:00.000Z');
});

test('@every and missed schedule times', () => {
  const every = parseSchedule('@every 90s');
  assert.is(every.next(Date.parse('2024-01-01T00:00:00Z')), Date.parse('2024-01-01T00:01:30Z'));
  const s = parseSchedule('*/1 * * * *', 'UTC');
  const r = mostRecentScheduleTime(s, Date.parse('2024-01-01T00:00:30Z'), Date.parse('2024-01-01T00:05:10Z'));
  assert.is(iso(r.latest), '2024-01-01T00:05:00.000Z');
  assert.is(r.missed, 5);
  assert.equal(mostRecentScheduleTime(s, Date.parse('2024-01-01T00:00:30Z'), Date.parse('2024-01-01T00:00:50Z')), { missed: 0 });
  // Far behind: still finds the latest quickly.
  const far = mostRecentScheduleTime(s, Date.parse('2023-01-01T00:00:00Z'), Date.parse('2024-01-01T00:05:10Z'));
  assert.is(iso(far.latest), '2024-01-01T00:05:00.000Z');
  assert.ok(far.missed > 100);
});

test('NoExecute eviction time', () => {
  const now = Date.parse('2024-01-01T00:00:10Z');
  const taint = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' as const, timeAdded: '2024-01-01T00:00:00Z' };
  assert.is(evictionTimeMs([], [taint], now), now, 'not tolerated: now');
  assert.is(evictionTimeMs([{ key: taint.key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }], [taint], now), Date.parse('2024-01-01T00:00:30Z'));
  assert.is(evictionTimeMs([{ operator: 'Exists' }], [taint], now), undefined, 'tolerated forever');
  assert.is(evictionTimeMs([], [{ key: 'x', effect: 'NoSchedule' }], now), undefined, 'NoSchedule never evicts');
});

test('Job back-off doubles and caps at 6 minutes', () => {
  assert.equal([0, 1, 2, 3].map((n) => backoffDelayMs(n, 10_000)), [0, 10_000, 20_000, 40_000]);
  assert.is(backoffDelayMs(20, 10_000), 360_000);
});

function pod(name: string, ip: string | undefined, ready: boolean, port: number, extra: Partial<Pod['metadata']> = {}): Pod {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: { app: 'a' }, ...extra },
    spec: { nodeName: 'n1', containers: [{ name: 'c', ports: [{ name: 'http', containerPort: port }] }] },
    status: { phase: 'Running', ...(ip ? { podIP: ip } : {}), conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

test('Endpoints subsets: ready/not-ready, named ports per pod, terminating, no IP', () => {
  const svc: Service = { metadata: { name: 's', namespace: 'default' }, spec: { selector: { app: 'a' }, ports: [{ name: 'web', port: 80, targetPort: 'http', protocol: 'TCP' }] } };
  const subsets = computeSubsets(svc, [
    pod('a', '10.42.0.2', true, 8080),
    pod('b', '10.42.0.3', false, 8080),
    pod('c', '10.42.0.4', true, 9090),
    pod('d', undefined, true, 8080),
    pod('e', '10.42.0.5', true, 8080, { deletionTimestamp: '2024-01-01T00:00:00Z' }),
    { ...pod('f', '10.42.0.6', true, 8080), metadata: { name: 'f', namespace: 'default', labels: { app: 'other' } } },
  ]);
  assert.is(subsets.length, 2);
  const s8080 = subsets.find((s) => s.ports?.[0]?.port === 8080)!;
  assert.equal(s8080.addresses!.map((a) => a.ip), ['10.42.0.2']);
  assert.equal(s8080.notReadyAddresses!.map((a) => a.ip), ['10.42.0.3', '10.42.0.5']);
  assert.equal(s8080.ports, [{ name: 'web', port: 8080, protocol: 'TCP' }]);
  const s9090 = subsets.find((s) => s.ports?.[0]?.port === 9090)!;
  assert.equal(s9090.addresses![0]!.targetRef, { kind: 'Pod', namespace: 'default', name: 'c', uid: 'uid-c' });
  const publish = computeSubsets({ ...svc, spec: { ...svc.spec, publishNotReadyAddresses: true } }, [pod('b', '10.42.0.3', false, 8080)]);
  assert.is(publish[0]!.addresses!.length, 1, 'publishNotReadyAddresses lists everyone as ready');
});

test('DaemonSet placement: selector, taints, daemon tolerations', () => {
  const ds: DaemonSet = { metadata: { name: 'd' }, spec: { selector: {}, template: { spec: { nodeSelector: { role: 'edge' }, containers: [{ name: 'c' }] } } } };
  const node = (labels: Record<string, string>, taints: Taint[] = []): Node => ({ metadata: { name: 'n', labels }, spec: { taints } });
  assert.equal(nodePlacement(ds, node({ role: 'edge' })), { shouldRun: true, shouldContinue: true });
  assert.equal(nodePlacement(ds, node({})), { shouldRun: false, shouldContinue: false });
  assert.equal(nodePlacement(ds, node({ role: 'edge' }, [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }, { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }])),
    { shouldRun: true, shouldContinue: true }, 'daemon pods tolerate lost and cordoned nodes');
  assert.equal(nodePlacement(ds, node({ role: 'edge' }, [{ key: 'gpu', effect: 'NoSchedule' }])), { shouldRun: false, shouldContinue: true });
  assert.equal(nodePlacement(ds, node({ role: 'edge' }, [{ key: 'gpu', effect: 'NoExecute' }])), { shouldRun: false, shouldContinue: false });
});

test.run();
