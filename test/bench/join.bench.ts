/**
 * Join benchmark: time for `corral join` to take 3 fresh lab nodes from nothing to Ready in parallel,
 * and per-phase times (connect, preflight, upload, start, Ready) per host, then the same for a
 * re-join (upgrade in place, nothing uploaded). Root; builds its own lab (guard routes first) and
 * runs every client inside it. `node dist/test/bench/join.bench.js [rounds]`. Prints figures.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withLab, type Lab } from '../lab/harness.js';
import { missingLabPrerequisites } from '../lab/prerequisites.js';
import { PHASES } from '../../installer/join/progress.js';

const ROUNDS = Number(process.argv[2] ?? 1);
const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(DIST, 'cli', 'corral.js');
const DATA = '/var/lib/corral';

/** Per-host phase seconds from the summary table `corral join` prints. */
function phasesFrom(stdout: string): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const line of stdout.split('\n')) {
    const m = /^(root@\S+)\s+\S+\s+\S+\s+.*?\s(joined|upgraded|failed)\s+([\d.]+)s\s+(.*)$/.exec(line);
    if (!m) continue;
    const phases: Record<string, number> = { total: Number(m[3]) };
    for (const part of m[4]!.split(', ')) {
      const [name, secs] = part.split(' ');
      if (name && secs) phases[name] = Number(secs.replace(/s$/, ''));
    }
    out.set(m[1]!, phases);
  }
  return out;
}

async function timedJoin(lab: Lab, label: string): Promise<void> {
  const hosts = lab.nodes.map((n) => `root@${n.ip}`);
  const t0 = performance.now();
  const r = await lab.exec('control', [process.execPath, CLI, 'join', ...hosts, '--data-dir', DATA, '--ssh-key', lab.clientKey,
    '--known-hosts', lab.knownHostsFile, '--netns-prefix', lab.netnsPrefix, '--ready-timeout', '120s'], { timeoutMs: 300_000 });
  const wall = (performance.now() - t0) / 1000;
  if (r.code !== 0) throw new Error(`join failed:\n${r.stdout}\n${r.stderr}`);
  const perHost = phasesFrom(r.stdout);
  process.stdout.write(`${label}: 3 nodes in parallel, command start to all Ready: ${wall.toFixed(2)} s\n`);
  process.stdout.write(`  ${'host'.padEnd(18)}${PHASES.map((p) => p.padStart(10)).join('')}${'total'.padStart(10)}\n`);
  for (const [host, ph] of perHost) {
    process.stdout.write(`  ${host.padEnd(18)}${PHASES.map((p) => (ph[p] === undefined ? '-' : `${ph[p]!.toFixed(1)}s`).padStart(10)).join('')}${`${ph['total']!.toFixed(1)}s`.padStart(10)}\n`);
  }
}

const missing = missingLabPrerequisites();
if (missing.length > 0) {
  process.stdout.write(`join benchmark skipped: needs ${missing.join(', ')}\n`);
} else {
  await withLab({ name: 'joinbench', nodes: 3 }, async (lab) => {
    const install = await lab.exec('control', [process.execPath, join(DIST, 'installer', 'service.js'), '--data-dir', DATA, '--cli', CLI, '--', '--disable-agent'], { timeoutMs: 120_000 });
    if (install.code !== 0) throw new Error(`server install failed: ${install.stderr}`);
    for (let round = 1; round <= ROUNDS; round++) {
      // A fresh join: no agent, no files on the nodes.
      if (round > 1) {
        await lab.exec('control', [process.execPath, CLI, 'uninstall', ...lab.nodes.map((n) => `root@${n.ip}`), '--data-dir', DATA, '--ssh-key', lab.clientKey, '--known-hosts', lab.knownHostsFile], { timeoutMs: 120_000 });
      }
      await timedJoin(lab, `fresh join (round ${round})`);
      await timedJoin(lab, `re-join, upgrade in place (round ${round})`);
    }
  });
}
