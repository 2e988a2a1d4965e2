/**
 * Per-node OpenSSH server and the lab's client side: host keys, one client key pair, a known_hosts
 * that pins every node's host key, and an ssh_config so `ssh -F <config> n1` needs nothing from
 * ~/.ssh. Everything lives in the lab directory; the machine's own ssh setup is never read or changed.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { execOk } from './exec.js';

export const SSHD_BINARY = '/usr/sbin/sshd';

/** Generates an ed25519 key pair at path / path.pub and returns the public key line. */
export async function generateKey(path: string, comment: string): Promise<string> {
  await execOk(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  return readFileSync(`${path}.pub`, 'utf8').trim();
}

export interface SshdConfigOptions {
  listenAddress: string;
  hostKey: string;
  pidFile: string;
  authorizedKeysFile: string;
}

/** sshd_config for a lab node: key-only root login on the node's LAN address, sftp in-process. */
export function sshdConfig(o: SshdConfigOptions): string {
  return [
    `ListenAddress ${o.listenAddress}`,
    'Port 22',
    `HostKey ${o.hostKey}`,
    `PidFile ${o.pidFile}`,
    `AuthorizedKeysFile ${o.authorizedKeysFile}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'Subsystem sftp internal-sftp',
    'LogLevel ERROR',
    '',
  ].join('\n');
}

/** argv that runs sshd in the foreground (the harness owns the process), logging to stderr. */
export function sshdArgv(configPath: string): string[] {
  return [SSHD_BINARY, '-D', '-e', '-f', configPath];
}

export interface SshClientHost { name: string; ip: string; hostKey: string }

/** known_hosts lines pinning each node's host key under both its name and its address. */
export function knownHosts(hosts: readonly SshClientHost[]): string {
  return hosts.map((h) => {
    const [type, key] = h.hostKey.split(' ');
    return `${h.name},${h.ip} ${type} ${key}\n`;
  }).join('');
}

/** ssh_config for the lab client: node names resolve to LAN addresses, strict host key checking. */
export function sshClientConfig(hosts: readonly SshClientHost[], identityFile: string, knownHostsFile: string): string {
  const perHost = hosts.map((h) => `Host ${h.name}\n  HostName ${h.ip}\n`).join('');
  return perHost + [
    'Host *',
    '  User root',
    `  IdentityFile ${identityFile}`,
    '  IdentitiesOnly yes',
    `  UserKnownHostsFile ${knownHostsFile}`,
    '  GlobalKnownHostsFile /dev/null',
    '  StrictHostKeyChecking yes',
    '  BatchMode yes',
    '  ConnectTimeout 5',
    '  LogLevel ERROR',
    '',
  ].join('\n');
}

/** Writes sshd's config for one node and makes sure its privilege-separation directory exists. */
export function writeSshdConfig(path: string, o: SshdConfigOptions): void {
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  writeFileSync(path, sshdConfig(o));
}
