/** `corral kubeconfig` and `corral token create|list|revoke`: what the person at the server hands out. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { paths } from '../server/config.js';
import { TokenStore, type TokenRole } from '../server/auth/tokens.js';
import { printableNodeToken } from './join-commands.js';
import { dataDirOf, dataDirOption, parseDurationSeconds, type CliCommand } from './flags.js';

export const kubeconfigCommand: CliCommand = {
  summary: 'print the admin kubeconfig of the local server',
  usage: 'corral kubeconfig [--data-dir DIR]',
  options: { ...dataDirOption },
  async run(values) {
    const dataDir = dataDirOf(values);
    const file = paths.kubeconfig(dataDir);
    if (!existsSync(file)) throw new Error(`no kubeconfig at ${file}: has \`corral server --data-dir ${dataDir}\` been started?`);
    process.stdout.write(await readFile(file, 'utf8'));
  },
};

export const tokenCommand: CliCommand = {
  summary: 'create, list or revoke tokens (roles: node for joining agents, viewer for read-only, admin)',
  usage: 'corral token create [--role node|viewer|admin] [--ttl 1h] [--description TEXT] [--data-dir DIR]\n' +
    '       corral token list [--data-dir DIR]\n       corral token revoke ID [--data-dir DIR]',
  options: { ...dataDirOption, role: { type: 'string' }, ttl: { type: 'string' }, description: { type: 'string' } },
  async run(values, positionals) {
    const dataDir = dataDirOf(values);
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
    throw new Error(`usage:\n${tokenCommand.usage}`);
  },
};
