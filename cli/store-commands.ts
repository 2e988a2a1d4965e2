/**
 * The `corral status`, `corral backup` and `corral restore` commands.
 * Each takes `--data-dir` (else CORRAL_DATA_DIR, else the config file's `data-dir`, else the default).
 */
import { ApiClient } from '../api/client/client.js';
import { HttpsTransport } from '../api/client/transport.js';
import { paths } from '../server/config.js';
import { DATASTORE_USAGE, datastoreOptions, datastoreSettings } from './datastore-flags.js';
import { dataDirOf, dataDirOption, type CliCommand } from './flags.js';
import { localMemberDatastore } from './embedded-etcd-flags.js';
import { fetchStatus, renderStatus } from './status.js';
import { kubeconfigFiles, loadKubeconfig } from './kubeconfig-file.js';

export const statusCommand: CliCommand = {
  summary: 'one screen of cluster health: nodes, requested capacity, pods not running, recent warnings',
  usage: 'corral status [--kubeconfig FILE] [--context NAME] [--data-dir DIR]\n' +
    '  The kubeconfig is found as kubectl finds it: --kubeconfig, else KUBECONFIG (files joined with ":"), else\n' +
    '  ~/.kube/config; before that last one, DATA_DIR/kubeconfig.yaml when it exists (as root on the server).',
  options: { ...dataDirOption, kubeconfig: { type: 'string' }, context: { type: 'string' } },
  async run(values) {
    const kubeconfigFlag = values['kubeconfig'] as string | undefined;
    const files = kubeconfigFiles({ kubeconfigFlag, dataDir: dataDirOf(values) });
    const access = await loadKubeconfig(files, { explicit: kubeconfigFlag !== undefined, context: values['context'] as string | undefined });
    const transport = new HttpsTransport({ server: access.server, caPem: access.caPem, token: access.token, timeoutMs: 10_000 });
    try {
      const status = await fetchStatus(new ApiClient(transport));
      process.stdout.write(`corral status — ${access.server} — ${new Date(status.now).toISOString().replace('T', ' ').slice(0, 19)} UTC\n\n`);
      process.stdout.write(renderStatus(status));
    } catch (err) {
      throw new Error(`cannot read the cluster from ${access.server}: ${(err as Error).message} (is the server running?)`, { cause: err });
    } finally {
      transport.close();
    }
  },
};

export const backupCommand: CliCommand = {
  summary: 'write a consistent snapshot of the cluster state (SQLite, or etcd with --datastore-endpoint) to FILE, online',
  usage: `corral backup FILE [--data-dir DIR] ${DATASTORE_USAGE}`,
  options: { ...dataDirOption, ...datastoreOptions },
  async run(values, positionals) {
    const [file, extra] = positionals;
    if (!file || extra !== undefined) throw new Error(`usage: ${backupCommand.usage}`);
    const dataDir = dataDirOf(values);
    const started = Date.now();
    // A server with its own etcd member (--cluster-init / --server) is backed up from that member.
    const etcd = datastoreSettings(values) ?? await localMemberDatastore(dataDir);
    // The store drivers (sqlite3, etcd3 with gRPC) load only for these commands: `corral agent` shares this CLI.
    const { backupStore, humanBytes } = await import('../server/store/backup.js');
    if (etcd) {
      const { backupEtcd } = await import('../server/store/etcd-migration.js');
      process.stderr.write(`backing up etcd at ${etcd.endpoints.join(',')} …\n`);
      const info = await backupEtcd(etcd, file);
      process.stdout.write(`backup written to ${file}: etcd revision ${info.etcdRevision}, ${info.objects} objects, ${humanBytes(info.bytes)}, integrity ok (${Date.now() - started} ms)\n`);
      return;
    }
    process.stderr.write(`backing up ${paths.db(dataDir)} …\n`);
    const info = await backupStore(paths.db(dataDir), file);
    process.stdout.write(`backup written to ${file}: revision ${info.revision}, ${info.objects} objects, ${humanBytes(info.bytes)}, integrity ok (${Date.now() - started} ms)\n`);
  },
};

export const restoreCommand: CliCommand = {
  summary: 'restore a backup FILE into the data dir of a STOPPED server (the old database is kept aside), or into an empty etcd',
  usage: `corral restore FILE [--data-dir DIR] ${DATASTORE_USAGE}`,
  options: { ...dataDirOption, ...datastoreOptions },
  async run(values, positionals) {
    const [file, extra] = positionals;
    if (!file || extra !== undefined) throw new Error(`usage: ${restoreCommand.usage}`);
    const etcd = datastoreSettings(values);
    if (etcd) {
      const { restoreIntoEtcd } = await import('../server/store/etcd-migration.js');
      const r = await restoreIntoEtcd(file, etcd);
      process.stdout.write(`restored ${file} into etcd at ${etcd.endpoints.join(',')}: ${r.objects} objects (backup revision ${r.revision}, now etcd revision ${r.etcdRevision}). Start the servers with --datastore-endpoint to use it.\n`);
      return;
    }
    const dataDir = dataDirOf(values);
    const { restoreStore } = await import('../server/store/backup.js');
    const r = await restoreStore(file, dataDir);
    if (r.keptAside) process.stdout.write(`previous database kept as ${r.keptAside}\n`);
    process.stdout.write(`restored ${file} into ${r.db}: revision ${r.revision}, ${r.objects} objects. Start the server to use it.\n`);
  },
};
