/** `corral agent`: a node agent (kubelet + kube-proxy) that joins a corral server; `--uninstall` cleans a node. */
import { installLastResortHandlers } from '../api/fault-containment.js';
import { readFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { log } from '../api/log.js';
import { AGENT_V8_FLAGS } from '../installer/agent-service.js';
import { INGRESS_USAGE, ingressOptions, ingressSettings } from './ingress-flags.js';
import { bool, dataDirOf, dataDirOption, parseDurationSeconds, str, type CliCommand } from './flags.js';

export const agentCommand: CliCommand = {
  summary: 'run a node agent (kubelet + kube-proxy) that joins a corral server',
  usage: 'corral agent --server URL[,URL...] --token TOKEN --ca-file FILE [--data-dir DIR] [--node-name NAME] [--node-ip IP]\n' +
    '             [--containerd-address SOCKET | --own-containerd] [--snapshotter overlayfs] [--kubelet-port 10250] [--netns-prefix PREFIX] [--cluster-cidr 10.42.0.0/16]\n' +
    '             [--service-cidr 10.43.0.0/16] [--crash-backoff 10s] [--reserved-cpu 250m] [--reserved-memory 256Mi]\n' +
    '             [--log-max-size 10Mi] [--log-max-files 2] [--plain-http-registry HOST:PORT[,HOST:PORT...]]\n' +
    '             [--cluster-domain cluster.local] [--cluster-dns 10.43.0.10] [--cluster-dns-port 10053] [--cluster-dns-ttl 5s] [--resolv-conf FILE]\n' +
    '             [--storage-dir DATA_DIR/storage] [--devices-config /etc/corral/devices.yaml] [--sysfs-root /sys] [--dev-root /dev]\n' +
    `             ${INGRESS_USAGE}\n` +
    '             [--eviction-monitoring-period 10s]\n' +
    '             [--lb-lease-duration 10s]\n' +
    '       corral agent --uninstall [--data-dir DIR] [--node-name NAME] [--netns-prefix PREFIX] [--containerd-address SOCKET | --own-containerd]\n' +
    '             (stop the agent first: removes its pods\' containers, pod netns, cni0, routes, iptables chains and <data-dir>/agent;\n' +
    '             with --own-containerd also corral\'s own containerd and its images)',
  options: {
    ...dataDirOption,
    server: { type: 'string', short: 's' },
    token: { type: 'string', short: 't' },
    'ca-file': { type: 'string' },
    'node-name': { type: 'string' },
    'node-ip': { type: 'string' },
    'containerd-address': { type: 'string' },
    'own-containerd': { type: 'boolean' },
    snapshotter: { type: 'string' },
    'kubelet-port': { type: 'string' },
    'netns-prefix': { type: 'string' },
    'cluster-cidr': { type: 'string' },
    'service-cidr': { type: 'string' },
    'crash-backoff': { type: 'string' },
    'eviction-monitoring-period': { type: 'string' },
    'reserved-cpu': { type: 'string' },
    'reserved-memory': { type: 'string' },
    'log-max-size': { type: 'string' },
    'log-max-files': { type: 'string' },
    'plain-http-registry': { type: 'string' },
    'cluster-domain': { type: 'string' },
    'cluster-dns': { type: 'string' },
    'cluster-dns-port': { type: 'string' },
    'cluster-dns-ttl': { type: 'string' },
    'resolv-conf': { type: 'string' },
    'storage-dir': { type: 'string' },
    'devices-config': { type: 'string' },
    'sysfs-root': { type: 'string' },
    'dev-root': { type: 'string' },
    'lb-lease-duration': { type: 'string' },
    uninstall: { type: 'boolean' },
    ...ingressOptions,
  },
  async run(values) {
    if (values['uninstall'] === true) {
      const { uninstallAgent } = await import('../agent/uninstall.js');
      const report = await uninstallAgent({
        dataDir: dataDirOf(values),
        nodeName: str(values, 'node-name', 'NODE_NAME'),
        netnsPrefix: str(values, 'netns-prefix', 'NETNS_PREFIX'),
        containerdAddress: str(values, 'containerd-address', 'CONTAINERD_ADDRESS'),
        ownContainerd: bool(values, 'own-containerd', 'OWN_CONTAINERD'),
      });
      process.stdout.write(`removed ${report.containers} containers, ${report.netns} pod netns, iptables chains in: ${report.iptablesBackends.join(', ') || 'none'}\n`);
      for (const p of report.problems) process.stderr.write(`problem: ${p}\n`);
      return report.problems.length === 0 ? 0 : 1;
    }
    // The installed agent's V8 flags (why: installer/agent-service.ts); CORRAL_AGENT_V8_FLAGS replaces
    // them for a measurement ('' runs with V8's defaults).
    setFlagsFromString(process.env['CORRAL_AGENT_V8_FLAGS'] ?? AGENT_V8_FLAGS.join(' '));
    const serverUrl = str(values, 'server', 'SERVER');
    const token = str(values, 'token', 'TOKEN');
    const caFile = str(values, 'ca-file', 'CA_FILE');
    if (!serverUrl || !token || !caFile) throw new Error('--server, --token and --ca-file are required');
    const kubeletPort = str(values, 'kubelet-port', 'KUBELET_PORT');
    const backoff = str(values, 'crash-backoff', 'CRASH_BACKOFF');
    const evictionPeriod = str(values, 'eviction-monitoring-period', 'EVICTION_MONITORING_PERIOD');
    const logMaxSize = str(values, 'log-max-size', 'LOG_MAX_SIZE');
    const logMaxFiles = str(values, 'log-max-files', 'LOG_MAX_FILES');
    const dnsPort = str(values, 'cluster-dns-port', 'CLUSTER_DNS_PORT');
    const dnsTtl = str(values, 'cluster-dns-ttl', 'CLUSTER_DNS_TTL');
    const lbLease = str(values, 'lb-lease-duration', 'LB_LEASE_DURATION');
    const { quantityToNumber } = await import('../api/quantity.js');
    const { startAgent } = await import('../agent/main.js');
    // Faults no listener contained: docs/adr/006-fault-containment.md (pods keep running meanwhile).
    let running: { close(): Promise<void> } | undefined;
    installLastResortHandlers({ component: 'agent', shutdown: async () => { await running?.close(); } });
    const agent = running = await startAgent({
      serverUrl,
      token,
      caPem: await readFile(caFile, 'utf8'),
      dataDir: dataDirOf(values),
      nodeName: str(values, 'node-name', 'NODE_NAME'),
      nodeIp: str(values, 'node-ip', 'NODE_IP'),
      containerdAddress: str(values, 'containerd-address', 'CONTAINERD_ADDRESS'),
      ownContainerd: bool(values, 'own-containerd', 'OWN_CONTAINERD'),
      snapshotter: str(values, 'snapshotter', 'SNAPSHOTTER'),
      netnsPrefix: str(values, 'netns-prefix', 'NETNS_PREFIX'),
      clusterCidr: str(values, 'cluster-cidr', 'CLUSTER_CIDR'),
      serviceCidr: str(values, 'service-cidr', 'SERVICE_CIDR'),
      ...(kubeletPort !== undefined ? { kubeletPort: Number(kubeletPort) } : {}),
      ...(backoff !== undefined ? { crashBackoffInitialMs: parseDurationSeconds(backoff) * 1000 } : {}),
      ...(evictionPeriod !== undefined ? { evictionMonitoringSeconds: parseDurationSeconds(evictionPeriod) } : {}),
      reservedCpu: str(values, 'reserved-cpu', 'RESERVED_CPU'),
      reservedMemory: str(values, 'reserved-memory', 'RESERVED_MEMORY'),
      ...(logMaxSize !== undefined ? { logMaxBytes: quantityToNumber(logMaxSize) } : {}),
      ...(logMaxFiles !== undefined ? { logMaxFiles: Number(logMaxFiles) } : {}),
      plainHttpRegistries: str(values, 'plain-http-registry', 'PLAIN_HTTP_REGISTRY')?.split(',').map((r) => r.trim()).filter(Boolean),
      clusterDomain: str(values, 'cluster-domain', 'CLUSTER_DOMAIN'),
      clusterDns: str(values, 'cluster-dns', 'CLUSTER_DNS'),
      ...(dnsPort !== undefined ? { dnsPort: Number(dnsPort) } : {}),
      ...(dnsTtl !== undefined ? { dnsTtlSeconds: parseDurationSeconds(dnsTtl) } : {}),
      resolvConf: str(values, 'resolv-conf', 'RESOLV_CONF'),
      storageDir: str(values, 'storage-dir', 'STORAGE_DIR'),
      devicesConfig: str(values, 'devices-config', 'DEVICES_CONFIG'),
      sysfsRoot: str(values, 'sysfs-root', 'SYSFS_ROOT'),
      devRoot: str(values, 'dev-root', 'DEV_ROOT'),
      ...ingressSettings(values),
      ...(lbLease !== undefined ? { lbLeaseSeconds: parseDurationSeconds(lbLease) } : {}),
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
};
