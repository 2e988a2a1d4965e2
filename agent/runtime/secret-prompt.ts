/**
 * Runs a command that reads a secret from its terminal, and types the secret in: the way registry
 * passwords reach `ctr images pull --user USER` (ctr 1.6 takes a password from `--user user:password`
 * or from a prompt on its console, nowhere else). Any user on the node can read every process's argv
 * in /proc/PID/cmdline, so the password must not be there. ctr's prompt needs a terminal, so the
 * command runs under a pseudo-terminal made by util-linux `script` (in every Debian and Raspberry Pi
 * OS: bsdutils is essential), and the secret is written once the prompt appeared, after which ctr
 * has turned echo off. The secret is masked in whatever output comes back anyway.
 */
import { runCommandInteractive, type RunOptions, type RunResult } from '../../api/run-command.js';

export interface SecretPrompt {
  secret: string;
  /** What the command prints when it waits for the secret. */
  prompt: RegExp;
}

/** `'a b'` → `'a b'` quoted for /bin/sh. */
function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export async function runWithSecretPrompt(file: string, args: readonly string[], p: SecretPrompt, opts: Omit<RunOptions, 'input'>): Promise<RunResult> {
  const command = [file, ...args].map(shellQuote).join(' ');
  let sent = false;
  const result = await runCommandInteractive('script', ['-q', '-e', '-c', command, '/dev/null'], {
    ...opts,
    env: { ...(opts.env ?? process.env), SHELL: '/bin/sh', TERM: 'dumb' },
    onStdout: (soFar, stdin) => {
      if (sent || !p.prompt.test(soFar)) return;
      sent = true;
      stdin.write(`${p.secret}\n`);
    },
  });
  const mask = (text: string): string => (p.secret === '' ? text : text.split(p.secret).join('***')).replace(/\r/g, '');
  // The terminal merges the command's stdout and stderr; its error lines are what callers read.
  const output = mask(result.stdout).replace(p.prompt, '');
  const errors = output.split('\n').filter((l) => /^ctr: |error/i.test(l)).join('\n');
  return { ...result, stdout: output, stderr: result.code === 0 ? mask(result.stderr) : (errors || output.trim().split('\n').pop() || mask(result.stderr)) };
}
