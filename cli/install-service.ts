/**
 * The last step of `installer/install.sh`: installs and starts the server service, then prints how to
 * reach it (installer/service.ts), handing it the server's token store for the printed join token, and
 * waits for the server's own node to become Ready, printing what keeps it from being Ready otherwise
 * (the agent's preflight findings: containerd, the snapshotter, the pod network).
 *
 *   node dist/cli/install-service.js [--data-dir /var/lib/corral] [--cli PATH] [--lib-dir DIR] [-- server flags...]
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ApiClient } from '../api/client/client.js';
import { HttpsTransport } from '../api/client/transport.js';
import type { Node } from '../api/types.js';
import { sleep } from '../api/async-util.js';
import { defaultNodeName } from '../agent/config.js';
import { installServerService } from '../installer/service.js';
import { paths } from '../server/config.js';
import { TokenStore } from '../server/auth/tokens.js';
import { loadKubeconfig } from './kubeconfig-file.js';

const NODE_READY_TIMEOUT_MS = 120_000;

/** Waits until the local node is Ready; returns the line to print either way. */
async function waitForLocalNode(dataDir: string, nodeName: string): Promise<string> {
  const access = await loadKubeconfig([paths.kubeconfig(dataDir)], { explicit: true });
  const transport = new HttpsTransport({ server: access.server, caPem: access.caPem, token: access.token, timeoutMs: 10_000 });
  const started = Date.now();
  let node: Node | undefined;
  try {
    for (;;) {
      node = await new ApiClient(transport).tryGet<Node>('Node', undefined, nodeName).catch(() => undefined);
      const ready = node?.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready?.status === 'True') return `node ${nodeName}: Ready (${((Date.now() - started) / 1000).toFixed(1)} s after the API)`;
      if (Date.now() - started > NODE_READY_TIMEOUT_MS) break;
      await sleep(500);
    }
  } finally {
    transport.close();
  }
  const conds = node?.status?.conditions ?? [];
  const ready = conds.find((c) => c.type === 'Ready');
  // Conditions that are bad when True (everything but Ready), as the agent reports them.
  const problems = conds.filter((c) => c.type !== 'Ready' && c.status === 'True').map((c) => `  ! ${c.type}: ${c.message ?? ''}`);
  return [
    `node ${nodeName} is not Ready after ${NODE_READY_TIMEOUT_MS / 1000} s: ${node ? (ready?.message ?? 'no Ready condition yet') : 'it has not registered'}`,
    ...problems,
    `  (corral status shows the same; the log is ${join(dataDir, 'corral.log')})`,
  ].join('\n');
}

const { values, positionals } = parseArgs({
  options: { 'data-dir': { type: 'string' }, cli: { type: 'string' }, 'lib-dir': { type: 'string' } },
  allowPositionals: true,
  strict: true,
});
const dataDir = values['data-dir'] ?? '/var/lib/corral';
const agentDisabled = positionals.includes('--disable-agent');
try {
  const text = await installServerService({
    dataDir,
    cli: values.cli ?? join(dirname(fileURLToPath(import.meta.url)), 'corral.js'),
    libDir: values['lib-dir'] ?? '/usr/local/lib/corral',
    serverArgs: positionals,
    openTokens: () => new TokenStore(paths.tokens(dataDir)),
  });
  process.stdout.write(text);
  if (!agentDisabled) {
    const line = await waitForLocalNode(dataDir, defaultNodeName());
    process.stdout.write(`${line}\n`);
    if (!line.includes(': Ready')) process.exitCode = 1;
  }
} catch (err) {
  process.stderr.write(`corral install: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
