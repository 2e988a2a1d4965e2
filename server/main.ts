/**
 * `corral server`: one straight start-up sequence — data dir → TLS → tokens + kubeconfig → store →
 * registry → HTTPS API → controllers and scheduler → local agent — each step's error wrapped with
 * what was being done. `close()` stops them in reverse order.
 */
import { setMaxListeners } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { createServer as createHttpsServer, Server } from 'node:https';
import type { RequestListener } from 'node:http';
import { createApiListener, type ApiListener } from './apiserver/api-listener.js';
import type { AddressInfo } from 'node:net';
import { serve, type WebSocketServerLike } from '@hono/node-server';
import { log } from '../api/log.js';
import { resourceForKind } from '../api/resources.js';
import { isAlreadyExists } from '../api/status.js';
import { ensureTls, SERVING_CERT_LIFETIME_MS, type TlsMaterial } from './auth/pki.js';
import { startServingCertRotation } from './auth/serving-cert-rotation.js';
import { TokenStore } from './auth/tokens.js';
import type { Hono } from 'hono';
import { registerJoinRoutes } from './etcd/join-routes.js';
import type { EmbeddedEtcd } from './etcd/embedded-etcd.js';
import { createApiApp, sourceAddress, type ApiApp, type Env, type RouteAuthenticator } from './apiserver/app.js';
import { Registry } from './apiserver/registry.js';
import { renderKubeconfig } from './kubeconfig.js';
import { paths, type ServerConfig } from './config.js';
import { openSqliteStore, type SqliteStore } from './store/sqlite-store.js';
import { LeaderElector } from '../api/machinery/leader-election.js';
import { ClusterReservations } from './apiserver/allocators/cluster-reservations.js';
import { syncBootstrap, syncTokens } from './cluster-bootstrap.js';
import { loadOrCreateServiceAccountKey } from './auth/service-account-key.js';
import { MemoryStore } from './store/memory-store.js';
import { RoutingStore } from './store/routing-store.js';
import { instrumentStore } from './store/instrumented-store.js';
import { ApiserverMetrics } from './apiserver/request-metrics.js';
import type { Store } from './store/store.js';
import { dirname } from 'node:path';
import { ApiClient } from '../api/client/client.js';
import { InProcessTransport } from '../api/client/transport.js';
import { InformerFactory } from '../api/machinery/informer.js';
import { startControllers } from './controllers/manager.js';
import { WebSocketServer } from 'ws';
import { answerNonWebSocketUpgrades } from './apiserver/plain-upgrade.js';
import { rememberRefusedUpgrades } from './apiserver/websocket-refusals.js';
import { AgentPodConnector } from './apiserver/pod-connector.js';
import { registerStatusPage } from './web/routes.js';
import { registerUsageHistory } from './web/usage.js';
import { UsageStore } from './metrics/usage-store.js';
import { UsageScraper } from './metrics/usage-scraper.js';
import { registerMetricsApi } from './metrics/metrics-api.js';
import { removePidFile, runningServerPid, writePidFile } from './pid-file.js';
import { ensureClusterDnsService, ensureDefaultStorageClass, hostPathRoots, ensureKubernetesService, ensureSystemPriorityClasses, ensureDefaultIngressClass, installAdmissionPlugins, SYSTEM_NAMESPACES } from './apiserver/allocators/index.js';
import { step } from '../api/async-util.js';
import { advertiseAddress } from './advertise-address.js';
import { IPv4Range } from './apiserver/allocators/ipv4-range.js';
import { reconcileBootstrapPolicy } from './auth/rbac/reconcile.js';
import { startRbac, type Rbac } from './auth/rbac/setup.js';
import type { RequestAttributes } from './auth/rbac/rules.js';
import { loadServiceAccountTokens, registerIdentityApi } from './auth/identity.js';
import { registerOidcDiscovery } from './auth/oidc-discovery.js';
import type { AccessDecision } from './auth/reviews.js';
import { parseLbPool } from './controllers/lb-pool.js';
import { CrdController } from './apiserver/crd/crd-controller.js';
import { serveCrdOpenApi } from './apiserver/crd/crd-openapi-source.js';

export interface RunningServer {
  url: string;
  port: number;
  tls: TlsMaterial;
  adminToken: string;
  registry: Registry;
  store: Store;
  /** The SQLite backend (for backups and write statistics); undefined when the state is in etcd. */
  sqlite: SqliteStore | undefined;
  api: ApiApp;
  tokens: TokenStore;
  /** In-process admin client (what the controllers use). */
  client: ApiClient;
  rbac: Rbac;
  /** Whether this server holds the controllers' Lease (runs controllers and scheduler). */
  isLeader(): boolean;
  close(): Promise<void>;
}

async function ensureNamespaces(registry: Registry): Promise<void> {
  const info = resourceForKind('Namespace')!;
  for (const name of SYSTEM_NAMESPACES) {
    if (await registry.tryGet(info, undefined, name)) continue;
    try {
      await registry.create(info, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
}

async function loadOrCreateAdminToken(cfg: ServerConfig, tokens: TokenStore): Promise<string> {
  const file = paths.adminToken(cfg.dataDir);
  if (existsSync(file)) {
    const token = (await readFile(file, 'utf8')).trim();
    if (tokens.authenticate(token)?.role === 'admin') return token;
  }
  const { token } = tokens.create('admin', { description: 'admin (kubeconfig)' });
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return token;
}

/** What the server hands to routes mounted from outside `server/` (the installer's /install.sh and friends). */
export interface ExtraRouteContext {
  caPem: string;
  caHash: string;
  tokens: TokenStore;
  port: number;
  /** Authenticates a request as the API does (same tokens, same failed-attempt throttling). */
  authenticate: RouteAuthenticator;
}

export interface StartServerHooks {
  /** More routes on the API app, beside the status page (`corral server` adds the installer's). */
  extraRoutes?: (app: Hono<Env>, ctx: ExtraRouteContext) => void;
}

/**
 * The store the API server runs on. SQLite (the default): Leases and Events stay in memory, so an
 * idle cluster does not write to the SD card. etcd (`--datastore-endpoint`): everything lives in etcd,
 * which several servers share; Events carry a one-hour etcd lease, so etcd removes them itself.
 */
async function openBackend(cfg: ServerConfig): Promise<{ store: Store; sqlite: SqliteStore | undefined }> {
  if (cfg.datastore) {
    const ds = cfg.datastore;
    // etcd3 with gRPC and its protobuf loader is ~20 MiB resident: a server on SQLite never loads it.
    const { openEtcdStore } = await import('./store/etcd-store.js');
    const etcd = await step(`connecting to etcd at ${ds.endpoints.join(',')}`, () => openEtcdStore({
      endpoints: ds.endpoints, caFile: ds.caFile, certFile: ds.certFile, keyFile: ds.keyFile,
      ttlPrefixes: [{ prefix: EVENTS_PREFIX, ttlSeconds: EVENT_TTL_SECONDS }],
    }));
    etcd.startCompactor({ intervalMs: 5 * 60_000, keepRevisions: 1000 });
    return { store: etcd, sqlite: undefined };
  }
  await step('creating the database dir', () => mkdir(dirname(paths.db(cfg.dataDir)), { recursive: true, mode: 0o700 }));
  const sqlite = await step('opening the SQLite store', () => openSqliteStore({ path: paths.db(cfg.dataDir) }));
  // Keep a floor of recent revisions so watchers can resume; compaction runs in small chunks.
  sqlite.startCompactor({ intervalMs: 5 * 60_000, keepRevisions: 1000 });
  // Lease heartbeats and Events change all the time and are worthless after a restart: keep them
  // in memory so an idle cluster does not write to the SD card.
  const store = new RoutingStore([
    { prefix: '/registry/coordination.k8s.io/leases/', store: new MemoryStore() },
    { prefix: EVENTS_PREFIX, store: new MemoryStore({ ttlMs: EVENT_TTL_SECONDS * 1000 }) },
  ], sqlite);
  return { store, sqlite };
}

const EVENTS_PREFIX = '/registry/core/events/';

/** This server's name in the controllers' Lease: the host and a per-process id. */
function serverIdentity(): string {
  return `${hostname()}_${randomUUID()}`;
}

/** kube-controller-manager's timing (15 s lease, 10 s renew deadline, 2 s retry); tests shorten it. */
function leaderElectionTiming(): { leaseDurationSeconds: number; renewDeadlineMs: number; retryPeriodMs: number } {
  const lease = Number(process.env['CORRAL_LEADER_LEASE_SECONDS'] ?? '') || 15;
  return { leaseDurationSeconds: lease, renewDeadlineMs: Math.round(lease * 1000 * 2 / 3), retryPeriodMs: Math.max(200, Math.round(lease * 1000 / 7.5)) };
}
const EVENT_TTL_SECONDS = 60 * 60;

export async function startServer(cfg: ServerConfig, hooks: StartServerHooks = {}): Promise<RunningServer> {
  await step('creating the data dir', () => mkdir(paths.serverDir(cfg.dataDir), { recursive: true, mode: 0o700 }));
  const otherServer = runningServerPid(cfg.dataDir);
  if (otherServer !== undefined) throw new Error(`another corral server (pid ${otherServer}) is using the data dir ${cfg.dataDir}`);
  // Lets `corral restore` refuse to replace the database under a running server.
  writePidFile(cfg.dataDir);
  let embeddedEtcd: EmbeddedEtcd | undefined;
  if (cfg.embeddedEtcd) {
    const { startEmbeddedEtcd } = await import('./etcd/embedded-etcd.js');
    const settings = cfg.embeddedEtcd;
    embeddedEtcd = await step('starting the embedded etcd member', () => startEmbeddedEtcd({ serverDir: paths.serverDir(cfg.dataDir), advertiseAddress: advertiseAddress(cfg), settings }));
    cfg = { ...cfg, datastore: embeddedEtcd.datastore };
  }
  // Tests shorten the serving certificate's lifetime to see it renewed and reloaded while running.
  const certLifetimeMs = Number(process.env['CORRAL_SERVING_CERT_LIFETIME_SECONDS'] ?? '') * 1000 || SERVING_CERT_LIFETIME_MS;
  // Pods verify the server as $KUBERNETES_SERVICE_HOST (the kubernetes ClusterIP) or by its cluster DNS name.
  const inClusterSans = [new IPv4Range(cfg.serviceCidr).addressAt(0), `kubernetes.default.svc.${cfg.clusterDomain}`];
  let tls = await step('preparing TLS certificates', () => ensureTls(paths.tlsDir(cfg.dataDir), [...cfg.tlsSans, ...inClusterSans], certLifetimeMs));
  const tokens = new TokenStore(paths.tokens(cfg.dataDir));
  let adminToken = await step('creating the admin token', () => loadOrCreateAdminToken(cfg, tokens));
  const metrics = new ApiserverMetrics();
  const backend = await openBackend(cfg);
  if (cfg.datastore) {
    // Several servers share one CA, service-account key and token set (kept encrypted in etcd).
    const secret = cfg.datastore.clusterSecret;
    if (!secret) throw new Error('a server on etcd needs the cluster secret every server shares: --token-file FILE or CORRAL_TOKEN');
    await loadOrCreateServiceAccountKey(paths.serviceAccountKey(cfg.dataDir));
    if (await step('sharing the cluster bootstrap data through etcd', () => syncBootstrap(backend.store, cfg.dataDir, secret))) {
      tls = await ensureTls(paths.tlsDir(cfg.dataDir), [...cfg.tlsSans, ...inClusterSans], certLifetimeMs);
      tokens.reload();
      adminToken = (await readFile(paths.adminToken(cfg.dataDir), 'utf8')).trim();
    }
  }
  const store = instrumentStore(backend.store, (operation, type, seconds) => metrics.storageOperation(operation, type, seconds));
  const registry = new Registry(store);
  await step('serving the stored custom resource definitions', () => CrdController.serveStored(registry));
  const storageDir = cfg.storageDir ?? paths.storage(cfg.dataDir);
  const allocator = await step('rebuilding the service allocators', () => installAdmissionPlugins(registry, {
    ...cfg, pvHostPathRoots: hostPathRoots(storageDir, cfg.pvHostPathRoots),
    ...(cfg.datastore ? { reservations: new ClusterReservations(store) } : {}),
  }));
  await step('creating the system namespaces', () => ensureNamespaces(registry));
  await step('creating the default storage class', () => ensureDefaultStorageClass(registry));
  await step('creating the system priority classes', () => ensureSystemPriorityClasses(registry));
  await step('creating the default ingress class', () => ensureDefaultIngressClass(registry));
  await step('reconciling the default RBAC roles and bindings', () => reconcileBootstrapPolicy(registry));
  const serviceAccounts = await step('loading the service-account signing key', () => loadServiceAccountTokens(registry, paths.serviceAccountKey(cfg.dataDir)));

  // What pods on any node reach the API at (the kubernetes Service's endpoint).
  const host = advertiseAddress(cfg);
  let port = cfg.port;
  // Tests shorten the BOOKMARK interval of watches (upstream: about a minute).
  const bookmarkIntervalMs = Number(process.env['CORRAL_WATCH_BOOKMARK_INTERVAL_MS'] ?? '') || undefined;
  // Tests shorten the time a client may take to send a request (its body above all); watches are not bound by it.
  const bodyTimeoutMs = Number(process.env['CORRAL_REQUEST_BODY_TIMEOUT_MS'] ?? '') || undefined;
  // Tests that send many bad tokens on purpose raise (or lower) the failed-authentication burst.
  const failedAuthBurst = Number(process.env['CORRAL_FAILED_AUTH_BURST'] ?? '') || undefined;
  // Resource usage (kubectl top, the status page's charts) is collected this often and kept in memory for an hour.
  const usageIntervalMs = (Number(process.env['CORRAL_METRICS_RESOLUTION_SECONDS'] ?? '') || 15) * 1000;
  const usage = new UsageStore(Math.ceil(3_600_000 / usageIntervalMs));
  const api = createApiApp({
    registry, tokens, serverAddress: `${host}:${port}`, serviceAccountTokens: serviceAccounts.tokens, metrics,
    ...(bookmarkIntervalMs ? { bookmarkIntervalMs } : {}),
    ...(failedAuthBurst ? { failedAuth: { burst: failedAuthBurst } } : {}),
    extraRoutes: (app, auth) => {
      registerOidcDiscovery(app, serviceAccounts.tokens, serviceAccounts.jwk);
      // Before the status page, whose `/ui/:file` would answer it.
      registerUsageHistory(app, usage, usageIntervalMs);
      registerStatusPage(app);
      if (embeddedEtcd && cfg.datastore?.clusterSecret) {
        registerJoinRoutes(app, { clusterCaPem: tls.caPem, etcdCa: embeddedEtcd.etcdCa, secret: cfg.datastore.clusterSecret, members: embeddedEtcd.members, sourceAddress });
      }
      hooks.extraRoutes?.(app, { caPem: tls.caPem, caHash: tls.caHash, tokens, port: cfg.port, authenticate: auth });
    },
  });
  const execSockets = new WebSocketServer({ noServer: true });
  const agents = new AgentPodConnector(registry);
  api.subresources.setConnector(agents);
  registerMetricsApi(api.provided, registry, usage);
  let listener: ApiListener | undefined;
  const server = await step(`listening on ${cfg.bindAddress}:${cfg.port}`, () => new Promise<Server>((resolve, reject) => {
    const s = serve({
      // A refused WebSocket upgrade keeps its Status body (websocket-refusals.ts).
      fetch: rememberRefusedUpgrades(api.app.fetch),
      // kubectl exec arrives as a WebSocket upgrade; the pod connector relays it to the node's agent.
      websocket: { server: execSockets as unknown as WebSocketServerLike },
      port: cfg.port,
      hostname: cfg.bindAddress,
      // HTTP/2 when the client offers it (kubectl, client-go), HTTP/1.1 otherwise and for upgrades (api-listener.ts).
      createServer: ((_options: unknown, requestListener: RequestListener) => {
        listener = createApiListener({
          keyPem: tls.keyPem, certPem: tls.certPem, caPem: tls.caPem, onConnection: (p) => metrics.connectionAccepted(p),
          ...(bodyTimeoutMs ? { bodyTimeoutMs } : {}),
        }, requestListener);
        return listener.server;
      }) as unknown as typeof createHttpsServer,
    }) as unknown as Server;
    s.once('error', reject);
    s.once('listening', () => resolve(s));
  }));
  answerNonWebSocketUpgrades(server, (r) => api.app.fetch(r));
  port = (server.address() as AddressInfo).port;
  await step('publishing the kubernetes service', () => ensureKubernetesService(registry, allocator.apiServerServiceIP, { address: host, port }));
  await step(`publishing the kube-dns service at ${cfg.clusterDns}`, () => ensureClusterDnsService(registry, cfg.clusterDns));
  const url = `https://127.0.0.1:${port}`;
  await step('writing the admin kubeconfig', () =>
    writeFile(paths.kubeconfig(cfg.dataDir), renderKubeconfig({ serverUrl: url, caPem: tls.caPem, token: adminToken }), { mode: 0o600 }));

  const stop = new AbortController();
  let leader: Pick<LeaderElector, 'isLeader'> | undefined;
  if (cfg.datastore?.clusterSecret) void syncTokens(backend.store, cfg.dataDir, cfg.datastore.clusterSecret, () => tokens.reload(), stop.signal);
  startServingCertRotation({ server, tlsDir: paths.tlsDir(cfg.dataDir), extraSans: cfg.tlsSans, lifetimeMs: certLifetimeMs, current: tls, signal: stop.signal });
  // Every informer's watch and every controller listens on this one signal.
  setMaxListeners(100, stop.signal);
  const internalToken = tokens.createEphemeral('admin', 'controllers');
  // Informers of the controllers, the scheduler, RBAC and CRDs take their events as frozen shared objects.
  const client = new ApiClient(new InProcessTransport(api.app, { authorization: `Bearer ${internalToken}` }, api.direct, true));
  const rbac = await step('loading the RBAC policy', () => startRbac({
    registry, client, signal: stop.signal, authorize: async (a) => (await api.authorizer.authorize(a)).decision === 'allow',
  }));
  // The chain is Node, built-in roles, then RBAC (upstream's Node,RBAC).
  api.authorizer.append(rbac.authorizer);
  const authorize = async (a: RequestAttributes): Promise<AccessDecision> => {
    const d = await api.authorizer.authorize(a);
    return { allowed: d.decision === 'allow', ...(d.decision === 'deny' ? { denied: true } : {}), ...(d.reason ? { reason: d.reason } : {}) };
  };
  // The apiextensions controllers belong to the API server (upstream's apiextensions-apiserver), not the controller manager.
  new CrdController({ registry, client, signal: stop.signal }).start();
  serveCrdOpenApi(api.openapi);
  registerIdentityApi({ api, tokens, serviceAccountTokens: serviceAccounts.tokens, rbac: rbac.authorizer, authorize });
  new UsageScraper({ registry, fetch: (node, path, timeoutMs) => agents.get(node, path, timeoutMs), store: usage, intervalMs: usageIntervalMs, signal: stop.signal }).start();
  if (!cfg.disableControllers) {
    const controllerSettings = {
      podEvictionTimeoutSeconds: cfg.podEvictionTimeoutSeconds,
      nodeMonitorGracePeriodSeconds: cfg.nodeMonitorGracePeriodSeconds,
      serviceCidr: cfg.serviceCidr,
      clusterCidr: cfg.clusterCidr,
      storageDir,
      caPem: tls.caPem,
      lbPool: cfg.lbPool !== undefined ? parseLbPool(cfg.lbPool) : undefined,
    };
    const runControllers = (signal: AbortSignal): Promise<void> => startControllers({
      client, informers: new InformerFactory(client), settings: controllerSettings, signal, metrics,
    });
    if (cfg.datastore) {
      // Of several servers on one etcd, exactly one runs the controllers, the scheduler and the
      // allocating loops (pod CIDRs, load-balancer pools): the holder of the Lease kube-system/corral-controllers.
      const elector = new LeaderElector({
        client, namespace: 'kube-system', name: 'corral-controllers', identity: serverIdentity(),
        ...leaderElectionTiming(),
        signal: stop.signal,
        onStartedLeading: (leading) => runControllers(AbortSignal.any([stop.signal, leading])),
      });
      leader = elector;
      void elector.run();
    } else {
      // SQLite is one server's own file (the pid file keeps a second server off it), so there is nobody
      // to elect: the controllers run without a Lease renewed every 2 s (k3s turns leader election off
      // for its SQLite datastore likewise).
      leader = { isLeader: true };
      log.info('server', 'running the controllers without leader election (SQLite: a single server)');
      runControllers(stop.signal).catch((err: unknown) => log.error('server', 'starting the controllers failed', { error: (err as Error).message }));
    }
  }
  log.info('server', 'corral server is up', { url, dataDir: cfg.dataDir, kubeconfig: paths.kubeconfig(cfg.dataDir) });
  let localAgent: { close(): Promise<void> } | undefined;
  if (!cfg.disableAgent) {
    // The local agent joins like a remote one: loopback HTTPS with the cluster CA and a node token.
    const { startAgent, defaultNodeName } = await import('../agent/main.js');
    const nodeName = defaultNodeName();
    localAgent = await step('starting the local agent', () => startAgent({
      serverUrl: url,
      // A credential of this node only, like any other agent's (the Node authorizer holds it to its node).
      token: tokens.createEphemeral('node', 'local agent', nodeName),
      nodeName,
      caPem: tls.caPem,
      dataDir: cfg.dataDir,
      clusterCidr: cfg.clusterCidr,
      serviceCidr: cfg.serviceCidr,
      clusterDomain: cfg.clusterDomain,
      clusterDns: cfg.clusterDns,
      storageDir,
      ...(cfg.nodeIp ? { nodeIp: cfg.nodeIp } : {}),
      ...(cfg.containerdAddress ? { containerdAddress: cfg.containerdAddress } : {}),
      ...(cfg.ownContainerd ? { ownContainerd: true } : {}),
      ...(cfg.snapshotter ? { snapshotter: cfg.snapshotter } : {}),
      ...(cfg.reservedCpu ? { reservedCpu: cfg.reservedCpu } : {}),
      ...(cfg.reservedMemory ? { reservedMemory: cfg.reservedMemory } : {}),
      ...(cfg.netnsPrefix ? { netnsPrefix: cfg.netnsPrefix } : {}),
      ...(cfg.devicesConfig ? { devicesConfig: cfg.devicesConfig } : {}),
      ...(cfg.localAgentIngress ?? {}),
    }));
  }

  let closed = false;
  return {
    url, port, tls, adminToken, registry, store, sqlite: backend.sqlite, api, tokens, client, rbac,
    isLeader: () => leader?.isLeader ?? false,
    async close() {
      if (closed) return;
      closed = true;
      await localAgent?.close();
      stop.abort();
      allocator.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        listener?.closeAllConnections();
      });
      await store.close();
      await embeddedEtcd?.close();
      removePidFile(cfg.dataDir);
    },
  };
}
