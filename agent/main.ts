/**
 * `corral agent`: the kubelet and kube-proxy of one node, started as one straight sequence —
 * directories → API client → containerd → kubelet endpoint (logs, exec) → node registration and
 * heartbeat → pod network (once the server assigned a pod CIDR) → service proxy → node-local DNS → ingress
 * proxy → pod sync loop.
 * A missing containerd or an unreachable server is retried in the background and reported on the
 * Node, never a crash. `close()` stops the loops; pods keep running (a restarted agent adopts them).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiClient } from '../api/client/client.js';
import { HttpsTransport } from '../api/client/transport.js';
import { FailoverTransport } from '../api/client/failover-transport.js';
import { log } from '../api/log.js';
import { createEventRecorder } from '../api/machinery/events.js';
import { InformerFactory } from '../api/machinery/informer.js';
import type { ConfigMap, Node, PersistentVolume, PersistentVolumeClaim, Secret } from '../api/types.js';
import { NODE_STORAGE_DIR_ANNOTATION } from '../api/storage-types.js';
import { agentDir, agentPaths, reservedResources, resolveAgentConfig, type AgentConfig, type AgentConfigInput } from './config.js';
import { KubeletServer } from './logs/kubelet-server.js';
import { LogKeeper } from './logs/rotation.js';
import { Ipam } from './network/ipam.js';
import { PodNetwork } from './network/pod-network.js';
import { syncRoutes } from './network/routes.js';
import { ServiceProxy } from './network/service-proxy.js';
import { LbAnnouncer } from './network/lb-announcer.js';
import { NodeDns } from './dns/node-dns.js';
import { startIngress, type RunningIngress } from './ingress/index.js';
import { INGRESS_PROXY_NODE_ANNOTATION } from '../api/networking-types.js';
import { NodeRegistration } from './node/registration.js';
import type { AgentSignals } from './node/node-status.js';
import { startAirGapImports } from './pods/air-gap.js';
import { ImageManager } from './pods/images.js';
import { PodEvents } from './pods/pod-events.js';
import { requestPodToken } from './pods/pod-token.js';
import { PodManager } from './pods/pod-manager.js';
import { TaskCache } from './pods/task-cache.js';
import { ContainerdRuntime } from './runtime/index.js';
import { OwnContainerd } from './runtime/own-containerd.js';
import { checkSnapshotter, type SnapshotterCheck } from './runtime/snapshotter-check.js';
import { LocalPathCleanup } from './storage/local-path-cleanup.js';
import { hostnameLabelValue } from './hardware/index.js';
import { sleep, step } from '../api/async-util.js';
import { useNodeCredential } from './node/credential.js';
import { loadDevicesConfig } from './hardware/device-config.js';
import { DeviceManager } from './hardware/device-manager.js';
import { AgentMetrics } from './metrics/agent-metrics.js';
import { CgroupReader } from './stats/cgroup-reader.js';
import { SummaryProvider } from './stats/summary.js';
import { DelegatedAuth } from './logs/delegated-auth.js';

export const CORRAL_VERSION = '0.1.0';
/** The node name an agent uses unless told (the server names its local agent's credential with it). */
export { defaultNodeName } from './config.js';

export interface RunningAgent {
  config: AgentConfig;
  client: ApiClient;
  pods: PodManager;
  devices: DeviceManager;
  proxy: ServiceProxy;
  lb: LbAnnouncer;
  dns: NodeDns;
  node: NodeRegistration;
  kubelet: KubeletServer;
  close(): Promise<void>;
}

function decodeSecret(s: Secret | undefined): Record<string, Buffer> | undefined {
  if (!s) return undefined;
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries((s.data ?? {}) as Record<string, string>)) out[k] = Buffer.from(v, 'base64');
  for (const [k, v] of Object.entries((s.stringData ?? {}) as Record<string, string>)) out[k] = Buffer.from(v);
  return out;
}

function toText(data: Record<string, Buffer> | undefined): Record<string, string> | undefined {
  return data ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, v.toString('utf8')])) : undefined;
}

export async function startAgent(input: AgentConfigInput): Promise<RunningAgent> {
  const cfg = await step('resolving the agent settings', () => resolveAgentConfig(input));
  for (const dir of [agentPaths.images(cfg), agentPaths.pods(cfg), agentPaths.logs(cfg), agentPaths.containers(cfg), agentPaths.ipam(cfg), agentPaths.tls(cfg)]) {
    await step(`creating ${dir}`, () => mkdir(dir, { recursive: true, mode: 0o700 }));
  }
  const deviceRules = await step(`reading the devices config ${cfg.devicesConfig ?? '/etc/corral/devices.yaml'}`, () => loadDevicesConfig(cfg.devicesConfig));
  const stop = new AbortController();
  const signal = stop.signal;
  // First, so the loops' work queues created below report into it.
  let pods: PodManager | undefined;
  const metrics = new AgentMetrics(() => {
    const running = pods?.running() ?? [];
    return { pods: running.length, containers: running.reduce((n, p) => n + p.containers.length, 0) };
  });
  // `--server` may name several API servers (comma separated): the agent fails over between them.
  const servers = cfg.serverUrl.split(',').map((u) => u.trim()).filter((u) => u !== '');
  const transport = new FailoverTransport(servers.map((server) => ({ name: server, transport: new HttpsTransport({ server, caPem: cfg.caPem, token: cfg.token, timeoutMs: 10_000 }) })));
  const client = new ApiClient(transport);
  // A join token is traded for this node's own credential before the agent writes anything; if the
  // server cannot be reached yet, that goes on in the background while the rest starts.
  const credential = useNodeCredential({ transport, configured: cfg.token, nodeName: cfg.nodeName, file: join(cfg.dataDir, 'agent', 'node-credential'), signal });
  await Promise.race([credential, sleep(10_000, { signal })]);
  // One informer per kind for every loop of the node (pods, nodes, services, endpoints).
  const informers = new InformerFactory(client);
  const recorder = createEventRecorder(client, { component: 'kubelet', host: cfg.nodeName });
  // The reference kubelet puts on node Events (uid = node name), as registration.ts does.
  const nodeRef: Node = { apiVersion: 'v1', kind: 'Node', metadata: { name: cfg.nodeName, uid: cfg.nodeName }, spec: {} };
  // corral's own containerd comes first: everything below talks to the runtime.
  let ownContainerd: OwnContainerd | undefined;
  if (cfg.ownContainerd && input.containerdAddress) {
    log.warn('agent', '--containerd-address wins over --own-containerd: using that containerd', { address: input.containerdAddress });
  } else if (cfg.ownContainerd) {
    const own = ownContainerd = new OwnContainerd({
      dataDir: cfg.dataDir,
      onExit: ({ code, signal: sig, restartInMs }) => recorder.record(nodeRef, 'Warning', 'ContainerdRestarting',
        `containerd exited (${sig ?? `code ${code}`}); corral restarts it in ${Math.round(restartInMs / 1000)}s`),
    });
    await step('starting corral\'s own containerd', () => own.start());
    cfg.containerdAddress = own.paths.socket;
  }
  const runtime = new ContainerdRuntime({
    address: cfg.containerdAddress, namespace: cfg.containerdNamespace, stateDir: agentPaths.containers(cfg), cgroupParent: `/corral/${cfg.nodeName}`,
    onCall: (operation, seconds, failed) => metrics.runtimeCall(operation, seconds, failed),
    ...(cfg.snapshotter ? { snapshotter: cfg.snapshotter } : {}),
  });
  const tasks = new TaskCache(runtime);
  const ipam = new Ipam(agentPaths.ipam(cfg), '10.42.0.0/24');
  const network = new PodNetwork(cfg.netnsPrefix, ipam);
  const dns = new NodeDns({
    client, informers, nodeIp: cfg.nodeIp, port: cfg.dnsPort, clusterDomain: cfg.clusterDomain, clusterCidr: cfg.clusterCidr, serviceCidr: cfg.serviceCidr,
    ttlSeconds: cfg.dnsTtlSeconds, resolvConf: cfg.resolvConf, signal,
  });
  const proxy = new ServiceProxy({
    informers, clusterCidr: cfg.clusterCidr, nodeName: cfg.nodeName, nodeIP: cfg.nodeIp, signal,
    ...(cfg.clusterDns ? { nodeLocalDns: { clusterIP: cfg.clusterDns, target: `${cfg.nodeIp}:${cfg.dnsPort}` } } : {}),
    onSync: (seconds) => metrics.proxyRulesSynced(seconds),
  });

  const configMap = async (ns: string, name: string): Promise<Record<string, string> | undefined> => {
    const cm = await client.tryGet<ConfigMap>('ConfigMap', ns, name);
    if (!cm) return undefined;
    const data: Record<string, string> = { ...((cm.data ?? {}) as Record<string, string>) };
    for (const [k, v] of Object.entries((cm.binaryData ?? {}) as Record<string, string>)) data[k] = Buffer.from(v, 'base64').toString('utf8');
    return data;
  };
  const secret = async (ns: string, name: string): Promise<Record<string, Buffer> | undefined> => decodeSecret(await client.tryGet<Secret>('Secret', ns, name));
  const images = new ImageManager(runtime, secret, cfg.plainHttpRegistries ?? []);
  // Attached hardware → labels and devices.corral.io/* resources on the Node; leases for the pods.
  const devRoot = cfg.devRoot ?? '/dev';
  const devices = new DeviceManager({
    nodeName: cfg.nodeName, rules: deviceRules, informers, events: recorder, sysRoot: cfg.sysfsRoot, devRoot, signal,
    onChange: () => node.checkStatusSoon(),
  });
  pods = new PodManager({
    cfg, client, runtime, tasks, network, images, events: new PodEvents(recorder), podStarted: (seconds) => metrics.podStarted(seconds),
    devices: { allocate: (pod) => devices.allocate(pod), release: (uid) => devices.release(uid), devRoot },
    envSources: { configMap, secret: async (ns, n) => toText(await secret(ns, n)), services: (ns) => proxy.servicesIn(ns) },
    volumeSources: {
      configMap: async (ns, n) => {
        const d = await configMap(ns, n);
        return d ? Object.fromEntries(Object.entries(d).map(([k, v]) => [k, Buffer.from(v)])) : undefined;
      },
      secret,
      claim: (ns, name) => client.tryGet<PersistentVolumeClaim>('PersistentVolumeClaim', ns, name),
      serviceAccountToken: (pod, o) => requestPodToken(client, pod, o),
      volume: (name) => client.tryGet<PersistentVolume>('PersistentVolume', undefined, name),
    },
    podsDir: agentPaths.pods(cfg),
    logsDir: agentPaths.logs(cfg),
  }, informers, signal);

  const podManager = pods;
  const summary = new SummaryProvider({ nodeName: cfg.nodeName, reader: new CgroupReader(), cgroupOf: (id) => runtime.cgroupsPath(id), running: () => podManager.running() });
  const kubelet = new KubeletServer({ cfg, pods, runtime, client, metrics, summary, delegatedAuth: new DelegatedAuth(client, cfg.nodeName) });
  await step(`starting the kubelet endpoint on port ${cfg.kubeletPort}`, () => kubelet.start());
  new LogKeeper(() => podManager.liveLogFiles(), cfg.logMaxBytes, cfg.logMaxFiles).start(signal);

  let runtimeState: AgentSignals['runtime'] = { ok: false, error: 'not checked yet' };
  let networkMessage: string | undefined;
  let snapshotterState: SnapshotterCheck | undefined;
  const checkRuntime = async (): Promise<void> => {
    try {
      runtimeState = { ok: true, version: await runtime.version() };
    } catch (err) {
      if (runtimeState.ok || runtimeState.error === 'not checked yet') log.error('agent', 'containerd is unreachable', { address: cfg.containerdAddress, error: (err as Error).message });
      runtimeState = { ok: false, error: (err as Error).message };
    }
    // Once per agent, as soon as containerd answers (again while the check itself could not run).
    if (runtimeState.ok && (snapshotterState === undefined || snapshotterState.ok === undefined)) {
      snapshotterState = await checkSnapshotter(runtime.ctr, runtime.snapshotter, join(agentDir(cfg), 'snapshotter-check'));
      if (snapshotterState.ok === false) {
        log.error('agent', `preflight: ${snapshotterState.message}`);
        recorder.record(nodeRef, 'Warning', 'SnapshotterUnusable', snapshotterState.message);
      }
    }
  };
  await checkRuntime();

  let podCidr: string | undefined;
  let podsStarted = false;
  let lastPeers = '';
  // The last pod CIDR is kept on disk: an agent restarting while the server is away still runs its pods.
  const cidrFile = join(cfg.dataDir, 'agent', 'pod-cidr');
  const usePodCidr = (cidr: string): void => {
    if (cidr === podCidr) return;
    podCidr = cidr;
    void writeFile(cidrFile, cidr).catch(() => undefined);
    void network.setupNode(cidr).then(() => {
        networkMessage = undefined;
        log.info('agent', 'pod network ready', { podCIDR: cidr });
        proxy.setPodCidr(cidr);
        node.checkStatusSoon();
        if (!podsStarted) {
          podsStarted = true;
          void startAirGapImports(images, agentPaths.images(cfg), signal).then(() => pods.start());
        }
    }, (err: unknown) => {
      networkMessage = (err as Error).message;
      podCidr = undefined;
      log.error('agent', 'cannot set up the pod network', { error: networkMessage });
    });
  };
  // Level-triggered from the Node informer (registration.ts's `peers` key): a failed route sync throws
  // and comes back with the queue's back-off.
  const onNodes = async (nodes: Node[]): Promise<void> => {
    const self = nodes.find((n) => n.metadata.name === cfg.nodeName);
    const cidr = self?.spec?.podCIDR;
    if (cidr) usePodCidr(cidr);
    const peers = nodes
      .filter((n) => n.metadata.name !== cfg.nodeName && n.spec?.podCIDR)
      .map((n) => ({ cidr: n.spec!.podCIDR!, via: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '' }))
      .filter((p) => p.via !== '');
    const fp = JSON.stringify(peers);
    if (fp === lastPeers) return;
    try {
      await syncRoutes(peers, cfg.serviceCidr);
      lastPeers = fp;
    } catch (err) {
      throw new Error(`cannot sync routes to other nodes: ${(err as Error).message}`, { cause: err });
    }
  };

  const node = new NodeRegistration({
    client, informers, events: recorder, nodeName: cfg.nodeName, nodeIp: cfg.nodeIp, dataDir: cfg.dataDir, kubeletPort: kubelet.port, maxPods: cfg.maxPods,
    corralVersion: CORRAL_VERSION, reserved: reservedResources(cfg), leaseRenewSeconds: cfg.leaseRenewSeconds, statusCheckSeconds: cfg.statusCheckSeconds,
    // The local-path provisioner makes this node's volumes here.
    annotations: {
      [NODE_STORAGE_DIR_ANNOTATION]: agentPaths.storage(cfg),
      // The server publishes the nodes carrying it as the address of corral's Ingresses.
      ...(cfg.disableIngress ? {} : { [INGRESS_PROXY_NODE_ANNOTATION]: `${cfg.ingressHttpPort},${cfg.ingressHttpsPort}` }),
    },
    signals: async () => {
      await checkRuntime();
      const snapshotter = snapshotterState?.ok === true ? { ok: true as const } : snapshotterState?.ok === false ? { ok: false as const, message: snapshotterState.message } : undefined;
      return { runtime: runtimeState, networkReady: network.cidr !== undefined, ...(networkMessage ? { networkMessage } : {}), ...(snapshotter ? { snapshotter } : {}) };
    },
    devices: () => devices.publication(),
    onNodes,
    signal,
  });
  await devices.start();
  await kubelet.publishCredentials().catch((err: unknown) => log.warn('agent', 'cannot publish the kubelet credentials yet, retrying', { error: (err as Error).message }));
  // A restarted agent sets its pod network up from the cached CIDR before it first reports status,
  // so a restart does not flap the Node to NotReady.
  const cachedCidr = (await readFile(cidrFile, 'utf8').catch(() => '')).trim();
  if (cachedCidr) usePodCidr(cachedCidr);
  node.start();
  await step('starting the service proxy', () => proxy.start());
  const ingress: RunningIngress | undefined = cfg.disableIngress ? undefined : await step('starting the ingress proxy', () => startIngress({ cfg, client, informers, signal }));
  // LoadBalancer pool addresses: announced from one node each, chosen by a Lease per address.
  const lb = new LbAnnouncer({
    client, informers, events: recorder, nodeName: cfg.nodeName, nodeIp: cfg.nodeIp, leaseSeconds: cfg.lbLeaseSeconds, signal,
    proxyReady: () => proxy.syncCount > 0,
  });
  await lb.start().catch((err: unknown) => log.error('agent', 'cannot announce LoadBalancer addresses from this node', { error: (err as Error).message }));
  informers.start(signal);
  await dns.start();
  // Removes the directories of this node's deleted local-path volumes.
  new LocalPathCleanup({ client, hostname: hostnameLabelValue(cfg.nodeName), storageDir: agentPaths.storage(cfg), signal }).start();
  // The pod sync loop starts once the pod network is up; with a cached spec it could also start
  // before, but pods need their netns first.
  log.info('agent', 'corral agent is up', { node: cfg.nodeName, nodeIP: cfg.nodeIp, server: cfg.serverUrl, kubeletPort: kubelet.port });

  let closed = false;
  return {
    config: cfg, client, pods, devices, proxy, lb, dns, node, kubelet,
    async close() {
      if (closed) return;
      closed = true;
      stop.abort();
      pods.stop();
      await kubelet.close();
      await dns.close();
      await ingress?.close();
      transport.close();
      await ownContainerd?.stop();
    },
  };
}
