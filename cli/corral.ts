#!/usr/bin/env node
/**
 * The `corral` command (as k3s has pkg/cli): parsing, settings precedence and the subcommand table.
 * Subcommands: server, agent, kubeconfig, token (create|list|revoke), join, uninstall, status, hil run, backup,
 * restore, version, each with `--help`. Settings come from flags, then CORRAL_* environment variables,
 * then the config file (cli/config-file.ts), then defaults. `server/`, `agent/` and `installer/` export
 * what these commands call; none of them imports `cli/`.
 */
import { parseArgs } from 'node:util';
import { log } from '../api/log.js';
import { agentCommand } from './agent-command.js';
import { applyConfigFile, fillFromEnvironment } from './config-file.js';
import type { CliCommand } from './flags.js';
import { hilCommand } from './hil-command.js';
import { joinCommand, uninstallCommand } from './join-commands.js';
import { serverCommand } from './server-command.js';
import { backupCommand, restoreCommand, statusCommand } from './store-commands.js';
import { kubeconfigCommand, tokenCommand } from './token-command.js';

const VERSION = '0.1.0';

const versionCommand: CliCommand = {
  summary: 'print the corral version',
  usage: 'corral version',
  options: {},
  async run() {
    process.stdout.write(`corral ${VERSION} (Kubernetes API v1.32, Node.js ${process.version})\n`);
  },
};

/** Every subcommand, in the order `corral --help` lists them. */
export const commands: Record<string, CliCommand> = {
  server: serverCommand,
  agent: agentCommand,
  kubeconfig: kubeconfigCommand,
  token: tokenCommand,
  join: joinCommand,
  uninstall: uninstallCommand,
  status: statusCommand,
  hil: hilCommand,
  backup: backupCommand,
  restore: restoreCommand,
  version: versionCommand,
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
    await applyConfigFile(typeof parsed.values['config'] === 'string' ? parsed.values['config'] : undefined);
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

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/corral') || process.argv[1]?.endsWith('/corral.js')) {
  void main(process.argv.slice(2)).then((code) => {
    // A failed command is over: connections it opened (an etcd client) must not keep the process alive.
    // stderr is a pipe or a file here, both written synchronously on Linux, so nothing is cut short.
    if (code !== 0) process.exit(code);
    process.exitCode = code;
  });
}
