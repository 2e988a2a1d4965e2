/**
 * Resource usage readings for `kubectl top`: a container's cgroup in v2 and v1 layouts and the node
 * from /proc files, written into a temporary directory in the kernel's formats, and the Summary's CPU
 * rate computed between two readings.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupReader, keyValue, parseKeyValues, parseProcStatCpu } from '../../agent/stats/cgroup-reader.js';
import { SummaryProvider } from '../../agent/stats/summary.js';
import type { Pod } from '../../api/types.js';
import { sleep } from '../../api/async-util.js';

function files(root: string, entries: Record<string, string>): void {
  for (const [path, text] of Object.entries(entries)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

const PROC = {
  'stat': 'cpu  1000 10 500 90000 200 0 40 50 0 0\ncpu0 500 5 250 45000 100 0 20 25 0 0\n',
  'meminfo': 'MemTotal:        8000000 kB\nMemFree:         1000000 kB\nMemAvailable:    6000000 kB\n',
};

test('cgroup v2: usage_usec, memory.current minus inactive_file; a missing cgroup is undefined', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cg2-'));
  try {
    files(root, {
      'cgroup.controllers': 'cpu memory\n',
      'corral/n1/c1/cpu.stat': 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n',
      'corral/n1/c1/memory.current': '10485760\n',
      'corral/n1/c1/memory.stat': 'anon 4194304\nfile 6291456\ninactive_file 2097152\nactive_file 4194304\n',
    });
    const r = new CgroupReader(root);
    assert.is(r.version, 2);
    assert.equal(await r.container('/corral/n1/c1'), { cpuNanoseconds: 2_500_000_000, memoryUsageBytes: 10_485_760, memoryWorkingSetBytes: 8_388_608 });
    assert.is(await r.container('/corral/n1/gone'), undefined);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('cgroup v1: cpuacct.usage and memory.usage_in_bytes minus total_inactive_file; the node from /proc', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cg1-'));
  const proc = mkdtempSync(join(tmpdir(), 'proc-'));
  try {
    files(root, {
      'cpuacct/corral/n1/c1/cpuacct.usage': '123456789\n',
      'memory/corral/n1/c1/memory.usage_in_bytes': '5000000\n',
      'memory/corral/n1/c1/memory.stat': 'cache 3000000\ninactive_file 1\ntotal_inactive_file 1000000\n',
    });
    files(proc, PROC);
    const r = new CgroupReader(root, proc);
    assert.is(r.version, 1);
    assert.equal(await r.container('/corral/n1/c1'), { cpuNanoseconds: 123_456_789, memoryUsageBytes: 5_000_000, memoryWorkingSetBytes: 4_000_000 });
    // busy = user + nice + system + irq + softirq + steal = 1000 + 10 + 500 + 0 + 40 + 50 jiffies of 10 ms
    assert.is(parseProcStatCpu(PROC.stat), 16_000_000_000);
    const node = await r.node();
    assert.equal(node, { cpuNanoseconds: 16_000_000_000, memoryUsageBytes: 2_000_000 * 1024, memoryWorkingSetBytes: 2_000_000 * 1024, memoryAvailableBytes: 6_000_000 * 1024 });
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(proc, { recursive: true, force: true });
  }
});

test('summary: pods and containers with their usage, and a CPU rate from the second reading (a container burning one core)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cg2-'));
  const proc = mkdtempSync(join(tmpdir(), 'proc-'));
  try {
    files(root, {
      'cgroup.controllers': 'cpu memory\n',
      'corral/n1/busy/cpu.stat': 'usage_usec 1000000\n',
      'corral/n1/busy/memory.current': '2048\n',
      'corral/n1/busy/memory.stat': 'inactive_file 0\n',
    });
    files(proc, PROC);
    const pod = { metadata: { name: 'spin', namespace: 'default', uid: 'u1' }, spec: { containers: [] } } as unknown as Pod;
    const provider = new SummaryProvider({
      nodeName: 'n1', reader: new CgroupReader(root, proc), cgroupOf: (id) => `/corral/n1/${id}`,
      running: () => [{ pod, containers: [{ name: 'loop', id: 'busy' }, { name: 'gone', id: 'missing' }] }],
    });
    const first = await provider.summary();
    assert.is(first.node.nodeName, 'n1');
    assert.is(first.pods.length, 1);
    assert.equal(first.pods[0]!.podRef, { name: 'spin', namespace: 'default', uid: 'u1' });
    assert.equal(first.pods[0]!.containers.map((c) => c.name), ['loop'], 'a container whose cgroup is gone is left out');
    assert.is(first.pods[0]!.containers[0]!.cpu.usageNanoCores, undefined, 'no rate from one reading');
    assert.is(first.pods[0]!.memory.workingSetBytes, 2048);
    const t0 = performance.now();
    await sleep(200);
    // The container used as much CPU time as wall time passed: one core.
    writeFileSync(join(root, 'corral/n1/busy/cpu.stat'), `usage_usec ${1_000_000 + Math.round((performance.now() - t0) * 1000)}\n`);
    const second = await provider.summary();
    const cores = second.pods[0]!.containers[0]!.cpu.usageNanoCores! / 1e9;
    assert.ok(cores > 0.8 && cores <= 1.05, `${cores} cores`);
    assert.is(second.pods[0]!.cpu.usageNanoCores, second.pods[0]!.containers[0]!.cpu.usageNanoCores);
    assert.is(second.node.cpu.usageNanoCores, 0, 'the node file did not move');
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(proc, { recursive: true, force: true });
  }
});

test('keyValue finds exactly the key asked for, as parseKeyValues reads it', () => {
  const stat = 'anon 10\nfile 20\nfile_mapped 30\nactive_file 40\ninactive_file 50\ninactive_anon 60\n';
  for (const key of ['anon', 'file', 'file_mapped', 'active_file', 'inactive_file', 'inactive_anon']) assert.is(keyValue(stat, key), parseKeyValues(stat).get(key), key);
  assert.is(keyValue(stat, 'inactive'), undefined);
  assert.is(keyValue('usage_usec 7\nuser_usec 3', 'usage_usec'), 7);
  assert.is(keyValue('MemTotal:  16 kB\nMemAvailable: 8 kB\n', 'MemAvailable'), 8);
  assert.is(keyValue('', 'anon'), undefined);
});

test.run();
