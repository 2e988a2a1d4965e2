/**
 * One SSH session to a host with ssh2: authentication in the order people expect (ssh-agent, then
 * `--ssh-key` or the default keys — encrypted ones unlocked with a prompted passphrase — then a
 * password as the last resort), host keys checked against known_hosts (see known-hosts.ts), commands
 * run as root directly or through `sudo -n`, and SFTP uploads verified by sha256 on the far side.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, AuthenticationType, Client as SshClient, ConnectConfig, ParsedKey, SFTPWrapper } from 'ssh2';
import { hostKeyName, hostKeyRefusal, knownHostsLine, knownKeyTypes, parseKnownHosts, verifyHostKey } from './known-hosts.js';
import type { JoinTarget } from './target.js';
import { shQuote } from '../service-files.js';

/** Asks a person for a secret (passphrase or password); undefined when nobody can answer. */
export type SecretPrompt = (question: string) => Promise<string | undefined>;

export interface SshOptions {
  /** Private key file (`--ssh-key`); default: ~/.ssh/id_ed25519, id_ecdsa, id_rsa that exist. */
  keyFile?: string;
  knownHostsFile: string;
  acceptNewHostKey: boolean;
  /** Run commands through `sudo -n` (a non-root login). */
  sudo: boolean;
  prompt: SecretPrompt;
  /** Password from the environment (CORRAL_SSH_PASSWORD) for unattended password logins. */
  password?: string;
  /** ssh-agent socket; default $SSH_AUTH_SOCK. */
  agentSocket?: string;
  readyTimeoutMs?: number;
}

export interface RunResult { code: number; stdout: string; stderr: string }

const HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/** Host key algorithms with the ones whose keys are already known for the host first. */
export function hostKeyAlgorithmOrder(knownTypes: readonly string[]): string[] {
  const preferred = HOST_KEY_ALGORITHMS.filter((a) => knownTypes.includes(a) || (a.startsWith('rsa-sha2') && knownTypes.includes('ssh-rsa')));
  return [...preferred, ...HOST_KEY_ALGORITHMS.filter((a) => !preferred.includes(a))];
}

function defaultKeyFiles(): string[] {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => join(homedir(), '.ssh', n)).filter((f) => existsSync(f));
}

/** Loads a private key, asking for the passphrase when it is encrypted (up to three tries). */
export async function loadPrivateKey(file: string, prompt: SecretPrompt): Promise<ParsedKey> {
  const data = readFileSync(file);
  let parsed = ssh2.utils.parseKey(data);
  for (let attempt = 0; parsed instanceof Error && /encrypted|passphrase/i.test(parsed.message) && attempt < 3; attempt++) {
    const passphrase = await prompt(`passphrase for ${file}: `);
    if (passphrase === undefined) throw new Error(`${file} is encrypted and no passphrase can be asked for (no terminal): add it to ssh-agent (ssh-add ${file})`);
    parsed = ssh2.utils.parseKey(data, passphrase);
  }
  if (parsed instanceof Error) throw new Error(`cannot use key ${file}: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key) throw new Error(`no key in ${file}`);
  return key as ParsedKey;
}

export class SshSession {
  private constructor(readonly target: JoinTarget, private readonly client: SshClient, private readonly sudo: boolean) {}

  static async connect(target: JoinTarget, o: SshOptions): Promise<SshSession> {
    const name = hostKeyName(target.host, target.port);
    const entries = existsSync(o.knownHostsFile) ? parseKnownHosts(readFileSync(o.knownHostsFile, 'utf8')) : [];
    const keyFiles = o.keyFile ? [o.keyFile] : defaultKeyFiles();
    const agent = o.agentSocket ?? process.env['SSH_AUTH_SOCK'];
    // Auth methods in order; keys are parsed (and unlocked) lazily, when the server asks for them.
    const methods: (() => Promise<AnyAuthMethod | undefined>)[] = [
      ...(agent ? [async (): Promise<AnyAuthMethod> => ({ type: 'agent', username: target.user, agent })] : []),
      ...keyFiles.map((f) => async (): Promise<AnyAuthMethod> => ({ type: 'publickey', username: target.user, key: await loadPrivateKey(f, o.prompt) })),
      async (): Promise<AnyAuthMethod | undefined> => {
        const password = o.password ?? await o.prompt(`password for ${target.user}@${target.host}: `);
        return password === undefined ? undefined : { type: 'password', username: target.user, password };
      },
    ];
    let refusal: string | undefined;
    let authError: Error | undefined;
    const client = new ssh2.Client();
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.user,
      readyTimeout: o.readyTimeoutMs ?? 15_000,
      keepaliveInterval: 10_000,
      algorithms: { serverHostKey: hostKeyAlgorithmOrder(knownKeyTypes(entries, name)) as never },
      hostVerifier: (key: Buffer): boolean => {
        const verdict = verifyHostKey(entries, name, key);
        if (verdict.status === 'match') return true;
        if (verdict.status === 'unknown' && o.acceptNewHostKey) {
          mkdirSync(dirname(o.knownHostsFile), { recursive: true, mode: 0o700 });
          appendFileSync(o.knownHostsFile, knownHostsLine(name, key), { mode: 0o600 });
          return true;
        }
        refusal = hostKeyRefusal(verdict, name, o.knownHostsFile, key);
        return false;
      },
      authHandler: (methodsLeft: AuthenticationType[], _partial: boolean, next: (m: AnyAuthMethod | false) => void): void => {
        void (async () => {
          while (methods.length > 0) {
            const make = methods.shift()!;
            try {
              const m = await make();
              if (m && (methodsLeft === null || methodsLeft.includes(m.type === 'agent' ? 'publickey' : m.type))) return next(m);
            } catch (err) {
              authError = err as Error;
            }
          }
          next(false);
        })();
      },
    } as ConnectConfig;
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve());
      client.once('error', (err: Error & { level?: string }) => {
        if (refusal) reject(new Error(refusal));
        else if (err.level === 'client-authentication') {
          reject(new Error(`cannot log in as ${target.user}@${target.host}: ${authError ? authError.message : 'no offered key or password was accepted'} ` +
            '(use --ssh-key FILE, load the key into ssh-agent, or set CORRAL_SSH_PASSWORD)'));
        } else reject(new Error(`ssh ${target.host}:${target.port}: ${err.message}`));
      });
      client.connect(config);
    });
    client.on('error', () => undefined); // later errors surface through the operation that hit them
    return new SshSession(target, client, o.sudo);
  }

  /** Runs a sh script as root (via `sudo -n` when needed), optionally feeding it input. */
  run(script: string, opts: { input?: string | Buffer; args?: readonly string[]; rawArgs?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    const args = opts.rawArgs ?? (opts.args ?? []).map(shQuote).join(' ');
    const command = `${this.sudo ? 'sudo -n ' : ''}sh -c ${shQuote(script)} corral ${args}`;
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) return reject(err);
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        const timer = setTimeout(() => {
          stream.close();
          reject(new Error(`command timed out after ${opts.timeoutMs ?? 120_000} ms on ${this.target.host}`));
        }, opts.timeoutMs ?? 120_000);
        stream.on('data', (d: Buffer) => out.push(d));
        stream.stderr.on('data', (d: Buffer) => errOut.push(d));
        stream.on('close', (code: number | null) => {
          clearTimeout(timer);
          resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8') });
        });
        stream.end(opts.input ?? '');
      });
    });
  }

  /**
   * Runs a read-only script with the login's $SSH_CONNECTION as `$1` (expanded by the login shell,
   * before sudo resets the environment).
   */
  probe(script: string): Promise<RunResult> {
    return this.run(script, { rawArgs: '"$SSH_CONNECTION"' });
  }

  /** Like run, but throws with the step name and stderr unless the script exits 0. */
  async runOk(what: string, script: string, opts: { input?: string | Buffer; args?: readonly string[]; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.run(script, opts);
    if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-800)}`);
    return r.stdout;
  }

  private sftp(): Promise<SFTPWrapper> {
    return new Promise((resolve, reject) => this.client.sftp((err, s) => (err ? reject(err) : resolve(s))));
  }

  /**
   * Uploads a local file over SFTP (parallel requests) into a fresh private directory of the login
   * user, checks its sha256 there, then installs it at dest (as root) with the given mode. A corrupted
   * upload never reaches dest.
   */
  async upload(localPath: string, sha256: string, dest: string, mode: string): Promise<void> {
    const tmpDir = (await this.runUser('mktemp -d /tmp/corral-join.XXXXXX')).trim();
    try {
      const sftp = await this.sftp();
      try {
        await new Promise<void>((resolve, reject) => sftp.fastPut(localPath, `${tmpDir}/upload`, { concurrency: 32, chunkSize: 32 * 1024 }, (err) => (err ? reject(err) : resolve())));
      } finally {
        sftp.end();
      }
      await this.runOk(`installing ${dest}`,
        'sum=$(sha256sum "$1" | cut -d" " -f1); [ "$sum" = "$4" ] || { echo "sha256 $sum on the host, $4 here" >&2; exit 9; }; ' +
        'mkdir -p "$(dirname "$2")" && install -m "$3" "$1" "$2.new" && mv -f "$2.new" "$2"',
        { args: [`${tmpDir}/upload`, dest, mode, sha256] }).catch((err: Error) => {
        throw /sha256/.test(err.message) ? new Error(`upload of ${dest} is corrupt: ${err.message}`) : err;
      });
    } finally {
      await this.runUser(`rm -rf ${shQuote(tmpDir)}`).catch(() => undefined);
    }
  }

  /** Runs a command as the login user (no sudo): for the SFTP scratch directory the user owns. */
  private runUser(command: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) return reject(err);
        let out = '';
        let errText = '';
        stream.on('data', (d: Buffer) => { out += d.toString('utf8'); });
        stream.stderr.on('data', (d: Buffer) => { errText += d.toString('utf8'); });
        stream.on('close', (code: number | null) => (code === 0 ? resolve(out) : reject(new Error(`${command}: ${errText.trim()}`))));
        stream.end();
      });
    });
  }

  /**
   * Writes small files as root in one round trip, each atomically with its mode (umask 077 first, so
   * a secret is never readable by others, not even for a moment).
   */
  async writeFiles(files: readonly { path: string; content: string; mode: string }[]): Promise<void> {
    const script = ['umask 077', 'set -e', ...files.map((f) => {
      const p = shQuote(f.path);
      return `mkdir -p "$(dirname ${p})"; printf '%s' ${shQuote(Buffer.from(f.content).toString('base64'))} | base64 -d > ${p}.new; chmod ${f.mode} ${p}.new; mv -f ${p}.new ${p}`;
    })].join('\n');
    await this.runOk(`writing ${files.map((f) => f.path).join(', ')}`, script);
  }

  async writeFile(path: string, content: string, mode: string): Promise<void> {
    await this.writeFiles([{ path, content, mode }]);
  }

  close(): void {
    this.client.end();
  }
}
