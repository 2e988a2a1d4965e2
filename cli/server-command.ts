/** `corral server`: the control plane (API server, store, scheduler, controllers) and the local agent. */
import { installLastResortHandlers } from '../api/fault-containment.js';
import { defaultServerConfig, type ServerConfig } from '../server/config.js';
import { log } from '../api/log.js';
import { parseLbPool } from '../server/controllers/lb-pool.js';
import { INGRESS_USAGE, ingressOptions, ingressSettings } from './ingress-flags.js';
import { CLUSTER_SECRET_USAGE, DATASTORE_USAGE, clusterSecret, datastoreOptions, datastoreSettings } from './datastore-flags.js';
import { EMBEDDED_ETCD_USAGE, embeddedEtcdOptions, embeddedEtcdSettings } from './embedded-etcd-flags.js';
import { bool, dataDirOption, env, parseDurationSeconds, str, type CliCommand } from './flags.js';

export const serverCommand: CliCommand = {
  summary: 'run the control plane (API server, store, scheduler, controllers) and the local agent',
  usage: 'corral server [--data-dir DIR] [--port 6443] [--bind-address 0.0.0.0] [--tls-san NAME]... [--disable-agent]\n' +
    '              [--node-ip IP] [--containerd-address SOCKET | --own-containerd] [--snapshotter overlayfs] [--pod-eviction-timeout 30s] [--node-monitor-grace-period 20s]\n' +
    '              [--disable-controllers] [--reserved-cpu 250m] [--reserved-memory 256Mi] [--netns-prefix PREFIX]\n' +
    '              [--storage-dir DATA_DIR/storage] [--pv-host-path-roots DIR,DIR...]\n' +
    '              [--cluster-domain cluster.local] [--cluster-dns 10.43.0.10] [--lb-pool 192.168.1.240-192.168.1.250,CIDR...]\n' +
    '              [--devices-config /etc/corral/devices.yaml]\n' +
    `              ${DATASTORE_USAGE} ${CLUSTER_SECRET_USAGE}\n` +
    `              ${EMBEDDED_ETCD_USAGE}\n` +
    `              ${INGRESS_USAGE}`,
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
    'own-containerd': { type: 'boolean' },
    snapshotter: { type: 'string' },
    'pod-eviction-timeout': { type: 'string' },
    'node-monitor-grace-period': { type: 'string' },
    'reserved-cpu': { type: 'string' },
    'reserved-memory': { type: 'string' },
    'netns-prefix': { type: 'string' },
    'storage-dir': { type: 'string' },
    'pv-host-path-roots': { type: 'string' },
    'cluster-domain': { type: 'string' },
    'cluster-dns': { type: 'string' },
    'lb-pool': { type: 'string' },
    'devices-config': { type: 'string' },
    ...ingressOptions,
    ...datastoreOptions,
    ...embeddedEtcdOptions,
    'token-file': { type: 'string' },
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
    if (bool(values, 'own-containerd', 'OWN_CONTAINERD')) cfg.ownContainerd = true;
    const snapshotter = str(values, 'snapshotter', 'SNAPSHOTTER');
    if (snapshotter) cfg.snapshotter = snapshotter;
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
    // Where local-path volumes live on every node, and where PersistentVolumes may point.
    const storageDir = str(values, 'storage-dir', 'STORAGE_DIR');
    if (storageDir) {
      if (!storageDir.startsWith('/')) throw new Error(`--storage-dir must be an absolute path, not "${storageDir}"`);
      cfg.storageDir = storageDir;
    }
    const roots = str(values, 'pv-host-path-roots', 'PV_HOST_PATH_ROOTS');
    if (roots !== undefined) {
      cfg.pvHostPathRoots = roots.split(',').map((r) => r.trim()).filter((r) => r !== '');
      const relative = cfg.pvHostPathRoots.find((r) => !r.startsWith('/'));
      if (relative !== undefined) throw new Error(`--pv-host-path-roots takes absolute paths, not "${relative}"`);
    }
    cfg.clusterDomain = str(values, 'cluster-domain', 'CLUSTER_DOMAIN') ?? cfg.clusterDomain;
    cfg.clusterDns = str(values, 'cluster-dns', 'CLUSTER_DNS') ?? cfg.clusterDns;
    cfg.localAgentIngress = ingressSettings(values);
    const lbPool = str(values, 'lb-pool', 'LB_POOL');
    if (lbPool !== undefined) {
      parseLbPool(lbPool); // a bad pool stops the start with the entry named
      cfg.lbPool = lbPool;
    }
    const datastore = datastoreSettings(values);
    if (datastore) {
      const secret = clusterSecret(values);
      if (!secret) throw new Error('--datastore-endpoint needs the cluster secret all servers share: --token-file FILE (or CORRAL_TOKEN); make one with: openssl rand -hex 32 > /etc/corral/cluster-token && chmod 600 /etc/corral/cluster-token');
      cfg.datastore = { ...datastore, clusterSecret: secret };
    }
    const embeddedEtcd = embeddedEtcdSettings(values, cfg.dataDir, datastore !== undefined);
    if (embeddedEtcd) cfg.embeddedEtcd = embeddedEtcd;
    const devicesConfig = str(values, 'devices-config', 'DEVICES_CONFIG');
    if (devicesConfig) {
      // A bad devices file stops the start with every mistake named (the local agent would refuse it).
      const { loadDevicesConfig } = await import('../agent/hardware/device-config.js');
      await loadDevicesConfig(devicesConfig);
      cfg.devicesConfig = devicesConfig;
    }
    const { startServer } = await import('../server/main.js');
    const { registerInstallRoutes } = await import('../installer/routes.js');
    // Faults no listener contained: docs/adr/006-fault-containment.md.
    let running: { close(): Promise<void> } | undefined;
    installLastResortHandlers({ component: 'server', shutdown: async () => { await running?.close(); } });
    // /cacerts, /install.sh and /bundle/* for nodes joining from the LAN.
    const server = running = await startServer(cfg, { extraRoutes: (app, ctx) => registerInstallRoutes(app, ctx) });
    await new Promise<void>((resolve) => {
      const stop = (sig: string): void => {
        log.info('server', `received ${sig}, shutting down`);
        void server.close().then(resolve, resolve);
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
  },
};
