/**
 * The `corral join` and `corral uninstall` commands, and the form a
 * node token is printed in: pinned to the cluster CA when the server's CA is at hand.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { TokenStore } from '../server/auth/tokens.js';
import { paths } from '../server/config.js';
import { DEFAULT_NETWORK } from '../installer/agent-service.js';
import { accessFromDataDir, accessFromToken, apiClient, caHashOfPem, type ServerAccess } from '../installer/join/cluster.js';
import { LineProgress, renderSummary, TtyProgress, type HostResult } from '../installer/join/progress.js';
import { promptSecret } from '../installer/join/prompt.js';
import type { SshOptions, SshSession } from '../installer/join/ssh.js';
import { parseTarget } from '../installer/join/target.js';
import { formatJoinToken } from '../installer/token.js';
import { dataDirOf, parseDurationSeconds, str, type CliCommand, type Options } from './flags.js';

// ssh2 and the join machinery load only when `join`/`uninstall` run: `corral server` stays lean.
const loadJoin = (): Promise<typeof import('../installer/join/join.js')> => import('../installer/join/join.js');
const loadSsh = (): Promise<typeof import('../installer/join/ssh.js')> => import('../installer/join/ssh.js');

/** A node token as `corral token create` prints it: K10<CA hash>::id.secret when the CA is there. */
export function printableNodeToken(dataDir: string, credential: string): string {
  const caFile = join(paths.tlsDir(dataDir), 'ca.crt');
  return existsSync(caFile) ? formatJoinToken(caHashOfPem(readFileSync(caFile, 'utf8')), credential) : credential;
}

const serverOptions: Options = {
  'data-dir': { type: 'string', short: 'd' },
  server: { type: 'string' },
  token: { type: 'string' },
  'ca-file': { type: 'string' },
};

const sshOptions: Options = {
  'ssh-key': { type: 'string', short: 'i' },
  'known-hosts': { type: 'string' },
  'accept-new-host-key': { type: 'boolean' },
  sudo: { type: 'boolean' },
};

async function serverAccess(values: Record<string, unknown>): Promise<ServerAccess> {
  const server = str(values, 'server', 'SERVER');
  const token = str(values, 'token', 'TOKEN');
  const caFile = values['ca-file'] as string | undefined;
  if (server || token) {
    if (!server || !token) throw new Error('--server and --token go together');
    return accessFromToken(server, token, caFile);
  }
  const dataDir = dataDirOf(values);
  const tokens = new TokenStore(paths.tokens(dataDir));
  // The node keeps this credential: it must not expire (revoke it with corral token revoke).
  // The same description the server gives the credentials it issues for /install.sh joins.
  const description = (nodeName: string): string => `node ${nodeName}`;
  return accessFromDataDir(dataDir, {
    // One live credential per node: minting replaces the node's older one (under the file's lock).
    issue: (nodeName) => tokens.mintNodeCredential(nodeName, { description: description(nodeName) }).token,
    retire: (nodeName, keepId) => {
      tokens.reload();
      for (const r of tokens.list()) if (r.role === 'node' && r.node === nodeName && r.id !== keepId) tokens.revoke(r.id);
    },
  });
}

function sshSettings(values: Record<string, unknown>): SshOptions {
  const password = process.env['CORRAL_SSH_PASSWORD'];
  return {
    ...(values['ssh-key'] ? { keyFile: values['ssh-key'] as string } : {}),
    knownHostsFile: (values['known-hosts'] as string | undefined) ?? join(homedir(), '.ssh', 'known_hosts'),
    acceptNewHostKey: values['accept-new-host-key'] === true,
    sudo: values['sudo'] === true,
    prompt: promptSecret,
    ...(password ? { password } : {}),
  };
}

export const joinCommand: CliCommand = {
  summary: 'install the agent on hosts over SSH (in parallel) and wait until their Nodes are Ready',
  usage: 'corral join [user@]host[:port]... [--data-dir DIR | --server URL[,URL...] --token K10…] [--ssh-key FILE] [--sudo]\n' +
    '              [--accept-new-host-key] [--known-hosts FILE] [--install-deps] [--node-name NAME] [--ready-timeout 3m] [--dry-run]\n' +
    '              [--cluster-cidr 10.42.0.0/16] [--service-cidr 10.43.0.0/16] [--netns-prefix corral-]\n' +
    '              [--cluster-domain cluster.local] [--cluster-dns 10.43.0.10]\n' +
    '  Run it on the server machine (it finds the server and makes a node token from --data-dir), or anywhere with\n' +
    '  --server and a K10 token from `corral token create`. Several servers (HA): the first that answers is used, agents get them all.\n' +
    '  Passwords: CORRAL_SSH_PASSWORD or a prompt.',
  options: {
    ...serverOptions, ...sshOptions,
    'install-deps': { type: 'boolean' },
    'node-name': { type: 'string' },
    'ready-timeout': { type: 'string' },
    'dry-run': { type: 'boolean' },
    'cluster-cidr': { type: 'string' },
    'service-cidr': { type: 'string' },
    'netns-prefix': { type: 'string' },
    'cluster-domain': { type: 'string' },
    'cluster-dns': { type: 'string' },
  },
  async run(values, positionals) {
    if (positionals.length === 0) throw new Error('name at least one host: corral join [user@]host[:port]...');
    const targets = positionals.map((p) => parseTarget(p));
    const nodeName = values['node-name'] as string | undefined;
    if (nodeName && targets.length > 1) throw new Error('--node-name works with one host only');
    const access = await serverAccess(values);
    const tty = process.stdout.isTTY === true && values['dry-run'] !== true;
    const write = (s: string): void => void process.stdout.write(s);
    const { joinHosts } = await loadJoin();
    const { agentBundle } = await import('../installer/bundle.js');
    const results: HostResult[] = await joinHosts({
      targets, access, ssh: sshSettings(values),
      installDeps: values['install-deps'] === true,
      dryRun: values['dry-run'] === true,
      ...(nodeName ? { nodeName } : {}),
      network: {
        clusterCidr: (values['cluster-cidr'] as string | undefined) ?? DEFAULT_NETWORK.clusterCidr,
        serviceCidr: (values['service-cidr'] as string | undefined) ?? DEFAULT_NETWORK.serviceCidr,
        clusterDomain: (values['cluster-domain'] as string | undefined) ?? DEFAULT_NETWORK.clusterDomain,
        clusterDns: (values['cluster-dns'] as string | undefined) ?? DEFAULT_NETWORK.clusterDns,
        netnsPrefix: (values['netns-prefix'] as string | undefined) ?? DEFAULT_NETWORK.netnsPrefix,
      },
      readyTimeoutMs: parseDurationSeconds((values['ready-timeout'] as string | undefined) ?? '3m') * 1000,
      bundle: agentBundle,
      progress: tty ? new TtyProgress(targets.map((t) => t.label), write, process.stdout.columns ?? 100) : new LineProgress(write),
      out: write,
    });
    write(`\n${renderSummary(results)}`);
    return results.some((r) => r.result === 'failed') ? 1 : 0;
  },
};

export const uninstallCommand: CliCommand = {
  summary: 'remove the agent from hosts over SSH (containers, pod netns, iptables chains, files, service) and delete their Nodes',
  usage: 'corral uninstall [user@]host[:port]... [--data-dir DIR | --server URL --token K10…] [--ssh-key FILE] [--sudo] [--known-hosts FILE]',
  options: { ...serverOptions, ...sshOptions },
  async run(values, positionals) {
    if (positionals.length === 0) throw new Error('name at least one host: corral uninstall [user@]host[:port]...');
    let access: ServerAccess | undefined;
    try {
      access = await serverAccess(values);
    } catch (err) {
      process.stderr.write(`corral uninstall: ${(err as Error).message}; the Node objects will not be deleted\n`);
    }
    const api = access ? apiClient(access) : undefined;
    const ssh = sshSettings(values);
    const { SshSession: Session } = await loadSsh();
    const { uninstallHost } = await import('../installer/join/uninstall.js');
    let failed = 0;
    await Promise.all(positionals.map(async (p) => {
      const t = parseTarget(p);
      let session: SshSession | undefined;
      try {
        session = await Session.connect(t, ssh);
        const node = await uninstallHost(session, api);
        // Its credentials go with it (on the server machine; a remote server keeps them until revoked).
        access?.retireOldNodeTokens?.(node, '');
        process.stdout.write(`[${t.label}] uninstalled; Node ${node}${api ? ' deleted' : ' left in the cluster'}\n`);
      } catch (err) {
        failed++;
        process.stdout.write(`[${t.label}] failed: ${(err as Error).message}\n`);
      } finally {
        session?.close();
      }
    }));
    return failed > 0 ? 1 : 0;
  },
};
