/**
 * Installs and (re)starts the corral server as a service — what `installer/install.sh` ends with:
 * a systemd unit where PID 1 is systemd, otherwise the supervised sh service (pid file, restart). Then
 * waits until the API answers and prints the kubeconfig path, a join token pinned to the cluster CA
 * and the status page URL. Re-running restarts the new build on the same data dir: upgrade in place.
 *
 * Run by install.sh through `node dist/cli/install-service.js` (which opens the token store).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { request } from 'node:https';
import { caHashOfPem } from './join/cluster.js';
import { renderSupervisor, renderSystemdUnit, serviceStartCommand, supervisorPath, systemdUnitPath, type ServiceSpec } from './service-files.js';
import { formatJoinToken, type NodeTokenIssuer } from './token.js';
import { sleep } from '../api/async-util.js';

export const SERVER_SERVICE = 'corral';

export function hasSystemd(): boolean {
  return existsSync('/run/systemd/system');
}

/**
 * V8 flags of the server process, on its command line: V8 sizes the young generation when the process
 * starts, so `corral server` cannot set this on itself. Node's default lets a burst of requests grow
 * it to 32 MiB (two 16 MiB semi-spaces), which then stays resident for good. A fixed 8 MiB (both
 * semi-spaces 4 MiB from the start): a smaller start (V8's 1 MiB) means a scavenge about every second
 * at the idle allocation rate of the server with its agent, which doubled its idle CPU; 4 MiB costs
 * ~5-10 % more server CPU per create with 50 clients and nothing measurable with one (api.bench.ts;
 * docs/performance.md "Footprint"). `--single-threaded-gc`: V8's four helper threads woke for every
 * scavenge of the idle process and cost more than the collection itself (idle CPU of server + local
 * agent 0.47 % against 0.55-0.62 %); under 50 clients it costs ~10 % more CPU per create, creates/s
 * unchanged within noise.
 */
export const SERVER_V8_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--min-semi-space-size=4', '--single-threaded-gc'];

/**
 * glibc malloc settings of the server process. Its threads (libuv's pool running SQLite, V8's compiler
 * threads) each get an arena that keeps freed memory, and Buffers of a few hundred KiB (request bodies,
 * LIST responses) land in the main heap once glibc has raised its mmap threshold, where freed space
 * in the middle is never returned. Two arenas and a fixed 128 KiB threshold for mmap and trimming
 * saved ~14 MiB in the footprint bench.
 */
export const SERVER_MALLOC_ENVIRONMENT: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
};

export function serverServiceSpec(o: { nodeBinary: string; cli: string; dataDir: string; serverArgs: readonly string[] }): ServiceSpec {
  return {
    name: SERVER_SERVICE,
    description: 'corral server',
    argv: [o.nodeBinary, ...SERVER_V8_FLAGS, o.cli, 'server', '--data-dir', o.dataDir, ...o.serverArgs],
    environment: SERVER_MALLOC_ENVIRONMENT,
    runDir: join(o.dataDir, 'run'),
    logFile: join(o.dataDir, 'corral.log'),
  };
}

/** The first non-loopback IPv4 address: where people on the LAN reach the status page. */
export function lanAddress(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

function readyz(port: number, caPem: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', ca: caPem, servername: 'localhost', timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** A join token kept in the data dir and re-printed while it is valid (re-running the installer does not pile up tokens). */
function joinToken(dataDir: string, caPem: string, tokens: NodeTokenIssuer): string {
  const file = join(dataDir, 'server', 'join-token');
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim();
    if (tokens.authenticate(kept)?.role === 'join') return kept;
  }
  const { token } = tokens.create('join', { description: 'join token printed by the installer' });
  const pinned = formatJoinToken(caHashOfPem(caPem), token);
  writeFileSync(file, `${pinned}\n`, { mode: 0o600 });
  return pinned;
}

export interface InstallServiceOptions {
  dataDir: string;
  cli: string;
  libDir: string;
  serverArgs: string[];
  /** The server's token store, opened once the server has created it. */
  openTokens: () => NodeTokenIssuer;
  timeoutMs?: number;
}

export async function installServerService(o: InstallServiceOptions): Promise<string> {
  const spec = serverServiceSpec({ nodeBinary: process.execPath, cli: o.cli, dataDir: o.dataDir, serverArgs: o.serverArgs });
  const systemd = hasSystemd();
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(o.libDir, { recursive: true });
  if (systemd) writeFileSync(systemdUnitPath(SERVER_SERVICE), renderSystemdUnit(spec), { mode: 0o644 });
  else writeFileSync(supervisorPath(o.libDir, SERVER_SERVICE), renderSupervisor(spec), { mode: 0o755 });
  execFileSync('sh', ['-c', serviceStartCommand(SERVER_SERVICE, systemd, o.libDir)], { stdio: ['ignore', 'ignore', 'inherit'] });

  const portArg = o.serverArgs.indexOf('--port');
  const port = portArg >= 0 ? Number(o.serverArgs[portArg + 1]) : 6443;
  const caFile = join(o.dataDir, 'server', 'tls', 'ca.crt');
  const deadline = Date.now() + (o.timeoutMs ?? 90_000);
  for (;;) {
    if (existsSync(caFile) && existsSync(join(o.dataDir, 'kubeconfig.yaml')) && await readyz(port, readFileSync(caFile, 'utf8'))) break;
    if (Date.now() > deadline) throw new Error(`corral did not become ready on port ${port}; see ${spec.logFile}`);
    await sleep(300);
  }
  const token = joinToken(o.dataDir, readFileSync(caFile, 'utf8'), o.openTokens());
  const lan = lanAddress();
  return [
    `corral is running (${systemd ? `systemd unit ${SERVER_SERVICE}.service` : `supervised: ${supervisorPath(o.libDir, SERVER_SERVICE)} status`}; log ${systemd ? `journalctl -u ${SERVER_SERVICE}` : spec.logFile})`,
    `kubeconfig:  ${join(o.dataDir, 'kubeconfig.yaml')}   (kubectl --kubeconfig ${join(o.dataDir, 'kubeconfig.yaml')} get nodes)`,
    `join token:  ${token}`,
    `status page: https://${lan}:${port}/   (log in with a token from: corral token create --role viewer)`,
    `add nodes:   corral join pi@HOST ...   (from this machine), or on a node, with a copy of ${caFile}:`,
    `             export CORRAL_TOKEN=<the join token>   (not on the command line: any user can read that)`,
    `             curl -fsSL --cacert ca.crt https://${lan}:${port}/install.sh | sudo --preserve-env=CORRAL_TOKEN sh -s -`,
    '',
  ].join('\n');
}
