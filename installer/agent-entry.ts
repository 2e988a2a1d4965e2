/**
 * Entry of the agent bundle that `corral join` uploads: `node corral-agent.cjs agent --server URL
 * --ca-file FILE [--node-name N] [--node-ip IP] [--data-dir DIR] [--containerd-address SOCK]`, the
 * token from CORRAL_TOKEN (the service's 0600 environment file) or `--token`. Before the agent starts,
 * a K10 token's CA hash must match the CA file: the agent then trusts only that CA's chain.
 *
 * `node corral-agent.cjs install --server URL [--node-name N] [--node-ip IP]` (run by /install.sh, token in
 * CORRAL_TOKEN, CA already in place) writes the agent's config, token and service, starts it and waits
 * until the Node is Ready: the same files `corral join` writes over SSH.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { startAgent } from '../agent/main.js';
import { log } from '../api/log.js';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ApiClient } from '../api/client/client.js';
import { HttpsTransport } from '../api/client/transport.js';
import { agentFiles, agentStartCommand, agentStopCommand, DEFAULT_NETWORK, nodeNameFromHostname, type AgentNetwork } from './agent-service.js';
import type { Node } from '../api/types.js';
import { caHashOfPem, exchangeJoinToken, NODE_PASSWORD_ANNOTATION, waitNodeReady } from './join/cluster.js';
import { NODE_PATHS } from './join/probe.js';
import { parseJoinToken } from './token.js';

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'install') return installHere(argv.slice(1));
  // The agent runs its probe helper as `node <this bundle> http|tcp ...` inside a pod's netns.
  if (argv[0] === 'http' || argv[0] === 'tcp') {
    await import('../agent/pods/probe-helper.js');
    return;
  }
  // ... its port-forward dialer as `node <this bundle> netns-dial` (through nsenter, with an IPC channel) ...
  if (argv[0] === 'netns-dial') {
    await import('../agent/portforward/netns-dialer-helper.js');
    return;
  }
  // ... and one-shot jobs (helper-process/run-helper.ts) as `node <this bundle> JOB`.
  if (argv[0] === 'system-facts' || argv[0] === 'self-signed-cert') {
    await import('../agent/helper-process/helper-main.js');
    return;
  }
  // `node <this bundle> parts` loads the parts that the agent itself loads when first needed (the bundle's
  // layout: installer/bundle-parts.ts) and names what each exports: a check of the file on a node.
  if (argv[0] === 'parts') {
    const [yaml, tasksMessage] = await Promise.all([import('yaml'), import('../agent/runtime/tasks-message.js')]);
    process.stdout.write(`${JSON.stringify({ yaml: Object.keys(yaml).sort(), tasksMessage: Object.keys(tasksMessage).sort() })}\n`);
    return;
  }
  const args = argv[0] === 'agent' ? argv.slice(1) : argv;
  const { values } = parseArgs({
    args,
    options: {
      server: { type: 'string' }, token: { type: 'string' }, 'ca-file': { type: 'string' }, 'node-name': { type: 'string' },
      'node-ip': { type: 'string' }, 'data-dir': { type: 'string' }, 'containerd-address': { type: 'string' },
      'netns-prefix': { type: 'string' }, 'cluster-cidr': { type: 'string' }, 'service-cidr': { type: 'string' },
      'cluster-domain': { type: 'string' }, 'cluster-dns': { type: 'string' },
    },
    strict: true,
  });
  const server = values.server ?? process.env['CORRAL_SERVER'];
  const tokenText = values.token ?? process.env['CORRAL_TOKEN'];
  const caFile = values['ca-file'] ?? process.env['CORRAL_CA_FILE'];
  if (!server || !tokenText || !caFile) throw new Error('usage: corral-agent.cjs agent --server URL --ca-file FILE (token in CORRAL_TOKEN or --token)');
  const token = parseJoinToken(tokenText);
  const caPem = readFileSync(caFile, 'utf8');
  if (token.caHash && caHashOfPem(caPem) !== token.caHash) {
    throw new Error(`${caFile} is not the CA this node's token pins: refusing to talk to the server`);
  }
  const agent = await startAgent({
    serverUrl: server, token: token.credential, caPem, dataDir: values['data-dir'] ?? '/var/lib/corral',
    ...(values['node-name'] ? { nodeName: values['node-name'] } : {}),
    ...(values['node-ip'] ? { nodeIp: values['node-ip'] } : {}),
    ...(values['containerd-address'] ? { containerdAddress: values['containerd-address'] } : {}),
    ...(values['netns-prefix'] ? { netnsPrefix: values['netns-prefix'] } : {}),
    ...(values['cluster-cidr'] ? { clusterCidr: values['cluster-cidr'] } : {}),
    ...(values['service-cidr'] ? { serviceCidr: values['service-cidr'] } : {}),
    ...(values['cluster-domain'] ? { clusterDomain: values['cluster-domain'] } : {}),
    ...(values['cluster-dns'] ? { clusterDns: values['cluster-dns'] } : {}),
  });
  log.info('agent', 'corral agent is up', { node: agent.config.nodeName, server });
  await new Promise<void>((resolve) => {
    const stop = (): void => void agent.close().then(resolve, resolve);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

function writeAtomic(path: string, content: string, mode: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.new`, content, { mode: parseInt(mode, 8) });
  renameSync(`${path}.new`, path);
}

/** The source address this host uses towards the server (a route lookup; nothing is sent). */
function routeSource(serverHost: string): string | undefined {
  try {
    return /\bsrc (\S+)/.exec(execFileSync('ip', ['-4', '-o', 'route', 'get', serverHost], { encoding: 'utf8' }))?.[1];
  } catch {
    return undefined;
  }
}

async function installHere(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string' }, 'node-name': { type: 'string' }, 'node-ip': { type: 'string' },
      'cluster-cidr': { type: 'string' }, 'service-cidr': { type: 'string' }, 'netns-prefix': { type: 'string' },
      'cluster-domain': { type: 'string' }, 'cluster-dns': { type: 'string' },
    },
    strict: true,
  });
  const network: AgentNetwork = {
    clusterCidr: values['cluster-cidr'] ?? DEFAULT_NETWORK.clusterCidr,
    serviceCidr: values['service-cidr'] ?? DEFAULT_NETWORK.serviceCidr,
    clusterDomain: values['cluster-domain'] ?? DEFAULT_NETWORK.clusterDomain,
    clusterDns: values['cluster-dns'] ?? DEFAULT_NETWORK.clusterDns,
    netnsPrefix: values['netns-prefix'] ?? DEFAULT_NETWORK.netnsPrefix,
  };
  const server = values.server;
  const tokenText = process.env['CORRAL_TOKEN'];
  if (!server || !tokenText) throw new Error('usage: CORRAL_TOKEN=K10... corral-agent.cjs install --server URL');
  const token = parseJoinToken(tokenText);
  const caPem = readFileSync(NODE_PATHS.caFile, 'utf8');
  if (!token.caHash || caHashOfPem(caPem) !== token.caHash) throw new Error(`${NODE_PATHS.caFile} is not the CA the token pins`);
  const nodeName = values['node-name'] ?? nodeNameFromHostname(hostname());
  const nodeIp = values['node-ip'] ?? routeSource(new URL(server).hostname);
  if (!nodeIp) throw new Error('cannot tell this node\'s address towards the server: pass --node-ip');
  if (!existsSync(NODE_PATHS.nodePassword)) writeAtomic(NODE_PATHS.nodePassword, randomBytes(24).toString('hex'), '0600');
  const bundleSha256 = createHash('sha256').update(readFileSync(NODE_PATHS.bundle)).digest('hex');
  const service = existsSync('/run/systemd/system') ? 'systemd' : 'supervisor';
  // The join token may expire: the node keeps a credential of its own.
  const nodeToken = await exchangeJoinToken(server, caPem, token.credential, nodeName);
  for (const f of agentFiles({ serverUrl: server, token: nodeToken, caPem, nodeName, nodeIp, nodeBinary: process.execPath, service, bundleSha256, network })) {
    writeAtomic(f.path, f.content, f.mode);
  }
  const client = new ApiClient(new HttpsTransport({ server, caPem, token: token.credential, timeoutMs: 10_000 }));
  execFileSync('sh', ['-c', agentStopCommand(service)], { stdio: 'inherit' });
  const stoppedAt = (await client.tryGet<Node>('Node', undefined, nodeName))?.metadata.resourceVersion;
  execFileSync('sh', ['-c', agentStartCommand(service)], { stdio: 'inherit' });
  // The new service no longer runs the bundle of its old name (the old one ran it until the restart).
  rmSync(NODE_PATHS.legacyBundle, { force: true });
  process.stdout.write(`waiting for Node ${nodeName} (${nodeIp}) to be Ready on ${server}\n`);
  await waitNodeReady(client, nodeName, stoppedAt, 180_000);
  const password = readFileSync(NODE_PATHS.nodePassword, 'utf8').trim();
  await client.patch('Node', undefined, nodeName, { metadata: { annotations: { [NODE_PASSWORD_ANNOTATION]: createHash('sha256').update(password).digest('hex') } } });
  process.stdout.write(`Node ${nodeName} is Ready\n`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`corral agent: ${(err as Error).message}\n`);
  process.exit(1);
});
