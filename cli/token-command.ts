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
  summary: 'create, list or revoke tokens (roles: join for joining agents, node for one node, viewer for read-only, admin, user for RBAC)',
  usage: 'corral token create [--role join|node|viewer|admin|user] [--user NAME] [--group G]... [--node NAME] [--ttl 1h] [--description TEXT] [--data-dir DIR]\n' +
    '       corral token list [--data-dir DIR]\n       corral token revoke ID [--cascade] [--data-dir DIR]\n' +
    '  A join token (the default; --role node without --node means the same) is traded by an agent for a\n' +
    '  credential of its own node. --role node --node NAME makes that credential directly (replacing the\n' +
    '  node\'s current one). revoke --cascade also revokes the node credentials a join token minted.\n' +
    '  --user names the user a token authenticates as (alone it means --role user: only what RBAC bindings\n' +
    '  grant that user or its --group groups); admin adds system:masters, viewer adds corral:viewers (view).',
  options: { ...dataDirOption, role: { type: 'string' }, node: { type: 'string' }, ttl: { type: 'string' }, description: { type: 'string' }, cascade: { type: 'boolean' },
    user: { type: 'string' }, group: { type: 'string', multiple: true } },
  async run(values, positionals) {
    const dataDir = dataDirOf(values);
    const store = new TokenStore(paths.tokens(dataDir));
    const [action, id] = positionals;
    if (action === 'create') {
      const user = values['user'] as string | undefined;
      const groups = (values['group'] as string[] | undefined) ?? [];
      const asked = values['role'] as string | undefined ?? (user !== undefined ? 'user' : 'join');
      if (!['join', 'node', 'viewer', 'admin', 'user'].includes(asked)) throw new Error(`invalid --role "${asked}": use join, node, viewer, admin or user`);
      if ((user !== undefined || groups.length > 0) && !['viewer', 'admin', 'user'].includes(asked)) throw new Error('--user and --group go with --role user, viewer or admin');
      const node = values['node'] as string | undefined;
      // Before node credentials existed, `--role node` made the token agents joined with.
      const role = (asked === 'node' && node === undefined ? 'join' : asked) as TokenRole;
      if (node !== undefined && role !== 'node') throw new Error('--node goes with --role node');
      const ttl = values['ttl'] as string | undefined;
      const description = values['description'] as string | undefined;
      const { token } = role === 'node'
        ? store.mintNodeCredential(node!, description ? { description } : {})
        : store.create(role as Exclude<TokenRole, 'node'>, {
          ...(ttl ? { ttlSeconds: parseDurationSeconds(ttl) } : {}),
          ...(description ? { description } : {}),
          ...(user !== undefined ? { user } : {}),
          ...(groups.length > 0 ? { groups } : {}),
        });
      process.stdout.write(`${role === 'node' || role === 'join' ? printableNodeToken(dataDir, token) : token}\n`);
      return;
    }
    if (action === 'list') {
      const who = (r: { user?: string; groups?: string[] }): string => [r.user ?? '', ...(r.groups ?? []).map((g) => `+${g}`)].filter(Boolean).join(' ') || '-';
      const rows = store.list().map((r) => [r.id, r.role, who(r), r.expires ?? '<never>', r.created, r.description]);
      const header = ['ID', 'ROLE', 'USER', 'EXPIRES', 'CREATED', 'DESCRIPTION'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const r of [header, ...rows]) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
      return;
    }
    if (action === 'revoke') {
      if (!id) throw new Error('usage: corral token revoke ID [--cascade]');
      const gone = store.revoke(id, { cascade: values['cascade'] === true });
      if (gone.length === 0) throw new Error(`no token with id "${id}"`);
      process.stdout.write(`token ${gone.join(', ')} revoked\n`);
      return;
    }
    throw new Error(`usage:\n${tokenCommand.usage}`);
  },
};
