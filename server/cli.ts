#!/usr/bin/env node
/**
 * The `corral` command: `server`, `kubeconfig`, `token create|list|revoke`, `version`, with
 * `--help` on each. Settings come from flags, then CORRAL_* environment variables, then the config
 * file (server/cli/config-file.ts), then defaults.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { defaultServerConfig, paths, type ServerConfig } from './config.js';
import { TokenStore, type TokenRole } from './auth/tokens.js';
import { log } from '../api/log.js';
import { joinCommand, printableNodeToken, uninstallCommand } from '../installer/cli-commands.js';
import { backupCommand, restoreCommand, statusCommand } from './cli/commands.js';
import { applyConfigFile, fillFromEnvironment } from './cli/config-file.js';

const VERSION = '0.1.0';

type Options = NonNullable<ParseArgsConfig['options']>;

interface Command {
  summary: string;
  usage: string;
  options: Options;
  run(values: Record<string, unknown>, positionals: string[]): Promise<number | void>;
}

function env(name: string): string | undefined {
  const v = process.env[`CORRAL_${name}`];
  return v === undefined || v === '' ? undefined : v;
}

function str(values: Record<string, unknown>, key: string, envName: string): string | undefined {
  const v = values[key];
  return typeof v === 'string' ? v : env(envName);
}

function bool(values: Record<string, unknown>, key: string, envName: string): boolean {
  if (values[key] === true) return true;
  const e = env(envName);
  return e === '1' || e === 'true';
}

const dataDirOption: Options = { 'data-dir': { type: 'string', short: 'd' } };

/** Parses a duration like `1h`, `30m`, `90s`, `2d` into seconds. */
export function parseDurationSeconds(text: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new Error(`invalid duration "${text}" (use e.g. 90s, 30m, 1h, 2d)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return n * ({ s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[unit]!;
}

const commands: Record<string, Command> = {
  server: {
    summary: 'run the control plane (API server, store, scheduler, controllers) and the local agent',
    usage: 'corral server [--data-dir DIR] [--port 6443] [--bind-address 0.0.0.0] [--tls-san NAME]... [--disable-agent]\n' +
      '              [--node-ip IP] [--containerd-address SOCKET] [--pod-eviction-timeout 30s] [--node-monitor-grace-period 20s]\n' +
      '              [--disable-controllers] [--reserved-cpu 250m] [--reserved-memory 256Mi] [--netns-prefix PREFIX]',
    options: {
      ...dataDirOption,
      port: { type: 'string', short: 'p' },
      'bind-address': { type: 'string' },
      'advertise-address': { type: 'string' },
      'tls-san': { type: 'string', multiple: true },
      'disable-agent': { type: 'boolean' },
      'disable-controllers': { type: 'boolean' },
      'node-ip': { type: 'string' },
      'containerd-address': { type: 'string' },
      'pod-eviction-timeout': { type: 'string' },
      'node-monitor-grace-period': { type: 'string' },
      'reserved-cpu': { type: 'string' },
      'reserved-memory': { type: 'string' },
      'netns-prefix': { type: 'string' },
    },
    async run(values) {
      const cfg: ServerConfig = defaultServerConfig();
      cfg.dataDir = str(values, 'data-dir', 'DATA_DIR') ?? cfg.dataDir;
      const port = str(values, 'port', 'PORT');
      if (port !== undefined) {
        cfg.port = Number(port);
        if (!Number.isInteger(cfg.port) || cfg.port < 0 || cfg.port > 65535) throw new Error(`invalid --port "${port}"`);
      }
      cfg.bindAddress = str(values, 'bind-address', 'BIND_ADDRESS') ?? cfg.bindAddress;
      const adv = str(values, 'advertise-address', 'ADVERTISE_ADDRESS');
      if (adv) cfg.advertiseAddress = adv;
      const sans = values['tls-san'] as string[] | undefined;
      cfg.tlsSans = sans ?? (env('TLS_SAN')?.split(',') ?? []);
      cfg.disableAgent = bool(values, 'disable-agent', 'DISABLE_AGENT');
      cfg.disableControllers = bool(values, 'disable-controllers', 'DISABLE_CONTROLLERS');
      const nodeIp = str(values, 'node-ip', 'NODE_IP');
      if (nodeIp) cfg.nodeIp = nodeIp;
      const ctrd = str(values, 'containerd-address', 'CONTAINERD_ADDRESS');
      if (ctrd) cfg.containerdAddress = ctrd;
      const evict = str(values, 'pod-eviction-timeout', 'POD_EVICTION_TIMEOUT');
      if (evict) cfg.podEvictionTimeoutSeconds = parseDurationSeconds(evict);
      const grace = str(values, 'node-monitor-grace-period', 'NODE_MONITOR_GRACE_PERIOD');
      if (grace) cfg.nodeMonitorGracePeriodSeconds = parseDurationSeconds(grace);
      // For the local agent: held back from pods, and the prefix of its pod netns names.
      const reservedCpu = str(values, 'reserved-cpu', 'RESERVED_CPU');
      if (reservedCpu) cfg.reservedCpu = reservedCpu;
      const reservedMemory = str(values, 'reserved-memory', 'RESERVED_MEMORY');
      if (reservedMemory) cfg.reservedMemory = reservedMemory;
      const netnsPrefix = str(values, 'netns-prefix', 'NETNS_PREFIX');
      if (netnsPrefix) cfg.netnsPrefix = netnsPrefix;
      const { startServer } = await import('./main.js');
      const server = await startServer(cfg);
      await new Promise<void>((resolve) => {
        const stop = (sig: string): void => {
          log.info('server', `received ${sig}, shutting down`);
          void server.close().then(resolve, resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    },
  },
  agent: {
    summary: 'run a node agent (kubelet + kube-proxy) that joins a corral server',
    usage: 'corral agent --server URL --token TOKEN --ca-file FILE [--data-dir DIR] [--node-name NAME] [--node-ip IP]\n' +
      '             [--containerd-address SOCKET] [--kubelet-port 10250] [--netns-prefix PREFIX] [--cluster-cidr 10.42.0.0/16]\n' +
      '             [--service-cidr 10.43.0.0/16] [--crash-backoff 10s] [--reserved-cpu 250m] [--reserved-memory 256Mi]\n' +
      '             [--log-max-size 10Mi] [--log-max-files 2] [--plain-http-registry HOST:PORT[,HOST:PORT...]]\n' +
      '       corral agent --uninstall [--data-dir DIR] [--node-name NAME] [--netns-prefix PREFIX] [--containerd-address SOCKET]\n' +
      '             (stop the agent first: removes its pods\' containers, pod netns, cni0, routes, iptables chains and <data-dir>/agent)',
    options: {
      ...dataDirOption,
      server: { type: 'string', short: 's' },
      token: { type: 'string', short: 't' },
      'ca-file': { type: 'string' },
      'node-name': { type: 'string' },
      'node-ip': { type: 'string' },
      'containerd-address': { type: 'string' },
      'kubelet-port': { type: 'string' },
      'netns-prefix': { type: 'string' },
      'cluster-cidr': { type: 'string' },
      'service-cidr': { type: 'string' },
      'crash-backoff': { type: 'string' },
      'reserved-cpu': { type: 'string' },
      'reserved-memory': { type: 'string' },
      'log-max-size': { type: 'string' },
      'log-max-files': { type: 'string' },
      'plain-http-registry': { type: 'string' },
      uninstall: { type: 'boolean' },
    },
    async run(values) {
      if (values['uninstall'] === true) {
        const { uninstallAgent } = await import('../agent/uninstall.js');
        const report = await uninstallAgent({
          dataDir: str(values, 'data-dir', 'DATA_DIR') ?? defaultServerConfig().dataDir,
          nodeName: str(values, 'node-name', 'NODE_NAME'),
          netnsPrefix: str(values, 'netns-prefix', 'NETNS_PREFIX'),
          containerdAddress: str(values, 'containerd-address', 'CONTAINERD_ADDRESS'),
        });
        process.stdout.write(`removed ${report.containers} containers, ${report.netns} pod netns, iptables chains in: ${report.iptablesBackends.join(', ') || 'none'}\n`);
        for (const p of report.problems) process.stderr.write(`problem: ${p}\n`);
        return report.problems.length === 0 ? 0 : 1;
      }
      const serverUrl = str(values, 'server', 'SERVER');
      const token = str(values, 'token', 'TOKEN');
      const caFile = str(values, 'ca-file', 'CA_FILE');
      if (!serverUrl || !token || !caFile) throw new Error('--server, --token and --ca-file are required');
      const kubeletPort = str(values, 'kubelet-port', 'KUBELET_PORT');
      const backoff = str(values, 'crash-backoff', 'CRASH_BACKOFF');
      const logMaxSize = str(values, 'log-max-size', 'LOG_MAX_SIZE');
      const logMaxFiles = str(values, 'log-max-files', 'LOG_MAX_FILES');
      const { quantityToNumber } = await import('../api/quantity.js');
      const { startAgent } = await import('../agent/main.js');
      const agent = await startAgent({
        serverUrl,
        token,
        caPem: await readFile(caFile, 'utf8'),
        dataDir: str(values, 'data-dir', 'DATA_DIR') ?? defaultServerConfig().dataDir,
        nodeName: str(values, 'node-name', 'NODE_NAME'),
        nodeIp: str(values, 'node-ip', 'NODE_IP'),
        containerdAddress: str(values, 'containerd-address', 'CONTAINERD_ADDRESS'),
        netnsPrefix: str(values, 'netns-prefix', 'NETNS_PREFIX'),
        clusterCidr: str(values, 'cluster-cidr', 'CLUSTER_CIDR'),
        serviceCidr: str(values, 'service-cidr', 'SERVICE_CIDR'),
        ...(kubeletPort !== undefined ? { kubeletPort: Number(kubeletPort) } : {}),
        ...(backoff !== undefined ? { crashBackoffInitialMs: parseDurationSeconds(backoff) * 1000 } : {}),
        reservedCpu: str(values, 'reserved-cpu', 'RESERVED_CPU'),
        reservedMemory: str(values, 'reserved-memory', 'RESERVED_MEMORY'),
        ...(logMaxSize !== undefined ? { logMaxBytes: quantityToNumber(logMaxSize) } : {}),
        ...(logMaxFiles !== undefined ? { logMaxFiles: Number(logMaxFiles) } : {}),
        plainHttpRegistries: str(values, 'plain-http-registry', 'PLAIN_HTTP_REGISTRY')?.split(',').map((r) => r.trim()).filter(Boolean),
      } as Parameters<typeof startAgent>[0]);
      await new Promise<void>((resolve) => {
        const stop = (sig: string): void => {
          log.info('agent', `received ${sig}, shutting down (pods keep running)`);
          void agent.close().then(resolve, resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    },
  },
  kubeconfig: {
    summary: 'print the admin kubeconfig of the local server',
    usage: 'corral kubeconfig [--data-dir DIR]',
    options: { ...dataDirOption },
    async run(values) {
      const dataDir = str(values, 'data-dir', 'DATA_DIR') ?? defaultServerConfig().dataDir;
      const file = paths.kubeconfig(dataDir);
      if (!existsSync(file)) throw new Error(`no kubeconfig at ${file}: has \`corral server --data-dir ${dataDir}\` been started?`);
      process.stdout.write(await readFile(file, 'utf8'));
    },
  },
  token: {
    summary: 'create, list or revoke tokens (roles: node for joining agents, viewer for read-only, admin)',
    usage: 'corral token create [--role node|viewer|admin] [--ttl 1h] [--description TEXT] [--data-dir DIR]\n' +
      '       corral token list [--data-dir DIR]\n       corral token revoke ID [--data-dir DIR]',
    options: { ...dataDirOption, role: { type: 'string' }, ttl: { type: 'string' }, description: { type: 'string' } },
    async run(values, positionals) {
      const dataDir = str(values, 'data-dir', 'DATA_DIR') ?? defaultServerConfig().dataDir;
      const store = new TokenStore(paths.tokens(dataDir));
      const [action, id] = positionals;
      if (action === 'create') {
        const role = (values['role'] as string | undefined ?? 'node') as TokenRole;
        if (!['node', 'viewer', 'admin'].includes(role)) throw new Error(`invalid --role "${role}": use node, viewer or admin`);
        const ttl = values['ttl'] as string | undefined;
        const { token } = store.create(role, {
          ...(ttl ? { ttlSeconds: parseDurationSeconds(ttl) } : {}),
          ...(values['description'] ? { description: values['description'] as string } : {}),
        });
        process.stdout.write(`${role === 'node' ? printableNodeToken(dataDir, token) : token}\n`);
        return;
      }
      if (action === 'list') {
        const rows = store.list().map((r) => [r.id, r.role, r.expires ?? '<never>', r.created, r.description]);
        const header = ['ID', 'ROLE', 'EXPIRES', 'CREATED', 'DESCRIPTION'];
        const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
        for (const r of [header, ...rows]) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
        return;
      }
      if (action === 'revoke') {
        if (!id) throw new Error('usage: corral token revoke ID');
        if (!store.revoke(id)) throw new Error(`no token with id "${id}"`);
        process.stdout.write(`token ${id} revoked\n`);
        return;
      }
      throw new Error(`usage:\n${commands['token']!.usage}`);
    },
  },
  join: joinCommand,
  uninstall: uninstallCommand,
  status: statusCommand,
  backup: backupCommand,
  restore: restoreCommand,
  version: {
    summary: 'print the corral version',
    usage: 'corral version',
    options: {},
    async run() {
      process.stdout.write(`corral ${VERSION} (Kubernetes API v1.32, Node.js ${process.version})\n`);
    },
  },
};

const SETTINGS_HELP = 'Every flag can also be set as a CORRAL_* environment variable (--data-dir → CORRAL_DATA_DIR) or as a key in\n' +
  'the config file /etc/corral/config.yaml (--config FILE or CORRAL_CONFIG for another one): data-dir: /srv/corral.\n' +
  'Precedence: flag > environment > config file > default.\n';

function mainHelp(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`);
  return `corral — a lightweight Kubernetes-compatible cluster for Raspberry Pis and home labs\n\nUsage: corral <command> [flags]\n\nCommands:\n${lines.join('\n')}\n\nRun \`corral <command> --help\` for the flags of a command.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp());
    return name ? 0 : 2;
  }
  if (name === '--version') return (await commands['version']!.run({}, []), 0);
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`corral: unknown command "${name}"\n\n${mainHelp()}`);
    return 2;
  }
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, options: { ...cmd.options, help: { type: 'boolean', short: 'h' }, config: { type: 'string' } }, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (err) {
    process.stderr.write(`corral ${name}: ${(err as Error).message}\n\nUsage: ${cmd.usage}\n`);
    return 2;
  }
  if (parsed.values['help']) {
    process.stdout.write(`${cmd.summary}\n\nUsage: ${cmd.usage}\n\n${SETTINGS_HELP}`);
    return 0;
  }
  try {
    // Flags > CORRAL_* environment > config file > defaults: the file only fills unset variables.
    applyConfigFile(typeof parsed.values['config'] === 'string' ? parsed.values['config'] : undefined);
    fillFromEnvironment(cmd.options as Parameters<typeof fillFromEnvironment>[0], parsed.values);
    const level = process.env['CORRAL_LOG_LEVEL'];
    if (level === 'debug' || level === 'info' || level === 'warn' || level === 'error') log.setLevel(level);
    const code = await cmd.run(parsed.values, parsed.positionals);
    return typeof code === 'number' ? code : 0;
  } catch (err) {
    process.stderr.write(`corral ${name}: ${(err as Error).message}\n`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/corral') || process.argv[1]?.endsWith('cli.js')) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
