/**
 * Which kubeconfig a local `corral` command reads, and what it says, following kubectl's loading rules
 * (client-go clientcmd): `--kubeconfig FILE`, else the files in KUBECONFIG (colon separated, merged:
 * the first file that sets current-context wins, and the first definition of each named cluster, user
 * and context wins; missing files are skipped), else ~/.kube/config. corral adds one rule for the person
 * at the server: with neither the flag nor KUBECONFIG, the data dir's kubeconfig.yaml comes before
 * ~/.kube/config when it exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';

export interface KubeconfigAccess {
  server: string;
  caPem: string;
  token: string;
  /** The file(s) it came from, for messages. */
  source: string;
}

interface ClusterEntry { server?: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string }
interface UserEntry { token?: string; tokenFile?: string }
interface ContextEntry { cluster?: string; user?: string }
interface KubeconfigDoc {
  'current-context'?: string;
  clusters?: { name?: string; cluster?: ClusterEntry }[];
  users?: { name?: string; user?: UserEntry }[];
  contexts?: { name?: string; context?: ContextEntry }[];
}

interface Merged {
  currentContext?: string;
  clusters: Map<string, { entry: ClusterEntry; file: string }>;
  users: Map<string, { entry: UserEntry; file: string }>;
  contexts: Map<string, ContextEntry>;
}

/** The kubeconfig file list, in kubectl's order of precedence (see the module comment). */
export function kubeconfigFiles(o: { kubeconfigFlag?: string | undefined; dataDir: string; env?: NodeJS.ProcessEnv }): string[] {
  const env = o.env ?? process.env;
  if (o.kubeconfigFlag) return [o.kubeconfigFlag];
  const fromEnv = (env['KUBECONFIG'] ?? '').split(':').filter((f) => f !== '');
  if (fromEnv.length > 0) return fromEnv;
  const local = join(o.dataDir, 'kubeconfig.yaml');
  if (existsSync(local)) return [local];
  return [join(env['HOME'] || homedir(), '.kube', 'config')];
}

async function merge(files: string[], explicit: boolean): Promise<Merged> {
  // yaml (~9 MiB resident) loads only for the commands that read a kubeconfig: `corral agent` shares this CLI.
  const { parse } = await import('yaml');
  const m: Merged = { clusters: new Map(), users: new Map(), contexts: new Map() };
  let found = 0;
  for (const file of files) {
    if (!existsSync(file)) {
      if (explicit) throw new Error(`no kubeconfig at ${file}: is the path right, and has the server been started?`);
      continue;
    }
    found++;
    const doc = (parse(readFileSync(file, 'utf8')) ?? {}) as KubeconfigDoc;
    if (m.currentContext === undefined && doc['current-context']) m.currentContext = doc['current-context'];
    for (const c of doc.clusters ?? []) if (c.name !== undefined && c.cluster && !m.clusters.has(c.name)) m.clusters.set(c.name, { entry: c.cluster, file });
    for (const u of doc.users ?? []) if (u.name !== undefined && u.user && !m.users.has(u.name)) m.users.set(u.name, { entry: u.user, file });
    for (const c of doc.contexts ?? []) if (c.name !== undefined && c.context && !m.contexts.has(c.name)) m.contexts.set(c.name, c.context);
  }
  if (found === 0) throw new Error(`no kubeconfig found (looked at ${files.join(', ')}): set KUBECONFIG, pass --kubeconfig, or run on the server as root`);
  return m;
}

/** Paths in a kubeconfig are relative to the file that holds them. */
function fromFile(file: string, path: string): string {
  return isAbsolute(path) ? path : resolve(dirname(file), path);
}

/** Server URL, CA and bearer token of the chosen context (`context`, else current-context). */
export async function loadKubeconfig(files: string[], o: { explicit?: boolean; context?: string | undefined } = {}): Promise<KubeconfigAccess> {
  const m = await merge(files, o.explicit ?? false);
  const source = files.join(':');
  const name = o.context ?? m.currentContext;
  let ctx: ContextEntry | undefined;
  if (name !== undefined) {
    ctx = m.contexts.get(name);
    if (!ctx) throw new Error(`context "${name}" is not in ${source}`);
  } else if (m.contexts.size === 1) {
    ctx = [...m.contexts.values()][0];
  }
  const cluster = ctx?.cluster !== undefined ? m.clusters.get(ctx.cluster) : m.clusters.size === 1 ? [...m.clusters.values()][0] : undefined;
  const user = ctx?.user !== undefined ? m.users.get(ctx.user) : m.users.size === 1 ? [...m.users.values()][0] : undefined;
  if (!cluster?.entry.server) throw new Error(`${source} has no cluster server for ${name ? `context "${name}"` : 'the current context'}`);
  const caPem = cluster.entry['certificate-authority-data']
    ? Buffer.from(cluster.entry['certificate-authority-data'], 'base64').toString('utf8')
    : cluster.entry['certificate-authority'] ? readFileSync(fromFile(cluster.file, cluster.entry['certificate-authority']), 'utf8') : undefined;
  if (!caPem) throw new Error(`${source}: the cluster has no certificate authority (corral always verifies the server)`);
  const token = user?.entry.token ?? (user?.entry.tokenFile ? readFileSync(fromFile(user.file, user.entry.tokenFile), 'utf8').trim() : undefined);
  if (!token) throw new Error(`${source}: the user has no token (corral's commands sign in with bearer tokens)`);
  return { server: cluster.entry.server, caPem, token, source };
}
