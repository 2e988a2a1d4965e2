/**
 * Liveness, readiness and startup probes of one container, with kubelet's timings: initial delay,
 * period, timeout, success and failure thresholds. Startup runs first and gates the other two.
 * exec probes run through the runtime; httpGet and tcpSocket probes run a small helper inside the
 * pod's network namespace. Results are reported through callbacks; the pod worker acts on them.
 */
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { Container, Probe } from '../../api/types.js';
import type { ContainerdRuntime } from '../runtime/index.js';
import { runCommand } from '../../api/run-command.js';
import { sleep } from '../../api/async-util.js';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';

export interface ProbeTarget {
  containerId: string;
  netnsPath: string;
  podIp: string;
  container: Container;
}

export interface ProbeCallbacks {
  /** Readiness changed (true after successThreshold successes, false after failureThreshold failures). */
  onReady(ready: boolean): void;
  /** Startup probe passed (or there is none). */
  onStarted(): void;
  /** Liveness or startup failed failureThreshold times: the container must be restarted. */
  onUnhealthy(kind: 'liveness' | 'startup', message: string): void;
  /** Any single failed probe (kubelet records an Unhealthy Event for each). */
  onProbeFailed?(kind: ProbeKind, message: string): void;
}

const HELPER = fileURLToPath(new URL('./probe-helper.js', import.meta.url));

function resolvePort(port: number | string, c: Container): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = c.ports?.find((p) => p.name === port);
  if (!named) throw new Error(`port ${port} is not a named port of container ${c.name}`);
  return named.containerPort;
}

export async function runProbe(probe: Probe, t: ProbeTarget, runtime: ContainerdRuntime, nodeBinary: string): Promise<{ ok: boolean; message: string }> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.exec?.command) {
    const session = runtime.exec(t.containerId, { execId: `probe-${randomBytes(4).toString('hex')}`, args: probe.exec.command });
    let out = '';
    session.process.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    session.process.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        void session.kill().catch(() => undefined);
        resolve(null);
      }, timeoutMs + 2_000);
      session.process.on('close', (c) => { clearTimeout(timer); resolve(c); });
      session.process.on('error', () => { clearTimeout(timer); resolve(-1); });
    });
    if (code === null) return { ok: false, message: `command timed out after ${probe.timeoutSeconds ?? 1}s` };
    return { ok: code === 0, message: code === 0 ? '' : `command exited ${code}: ${out.trim().slice(0, 200)}` };
  }
  let args: string[];
  if (probe.httpGet) {
    const g = probe.httpGet;
    const headers = Object.fromEntries((g.httpHeaders ?? []).map((h) => [h.name, h.value]));
    args = ['http', g.host ?? t.podIp, String(resolvePort(g.port, t.container)), g.path ?? '/', String(timeoutMs), g.scheme ?? 'HTTP', JSON.stringify(headers)];
  } else if (probe.tcpSocket) {
    args = ['tcp', probe.tcpSocket.host ?? t.podIp, String(resolvePort(probe.tcpSocket.port, t.container)), String(timeoutMs)];
  } else {
    return { ok: false, message: 'probe has no handler (exec, httpGet or tcpSocket)' };
  }
  const r = await runCommand('nsenter', [`--net=${t.netnsPath}`, nodeBinary, HELPER, ...args], { timeoutMs: timeoutMs + 5_000 });
  return { ok: r.code === 0, message: r.code === 0 ? '' : (r.stderr.trim() || `probe helper exited ${r.code}`) };
}

/** Runs the probes of one container until stopped. */
export class ContainerProber {
  private readonly abort = new AbortController();
  private started: boolean;

  constructor(private readonly t: ProbeTarget, private readonly runtime: ContainerdRuntime, private readonly nodeBinary: string, private readonly cb: ProbeCallbacks) {
    this.started = !t.container.startupProbe;
  }

  start(): void {
    const c = this.t.container;
    if (c.startupProbe) void this.loop('startup', c.startupProbe);
    else this.cb.onStarted();
    if (c.livenessProbe) void this.loop('liveness', c.livenessProbe);
    if (c.readinessProbe) void this.loop('readiness', c.readinessProbe);
    else this.cb.onReady(true);
  }

  stop(): void {
    this.abort.abort();
  }

  private async loop(kind: ProbeKind, probe: Probe): Promise<void> {
    const signal = this.abort.signal;
    const period = (probe.periodSeconds ?? 10) * 1000;
    const successThreshold = probe.successThreshold ?? 1;
    const failureThreshold = probe.failureThreshold ?? 3;
    if (kind !== 'startup') {
      while (!this.started && !signal.aborted) await sleep(100, { signal: signal });
    }
    await sleep((probe.initialDelaySeconds ?? 0) * 1000, { signal: signal });
    let successes = 0;
    let failures = 0;
    let ready: boolean | undefined;
    while (!signal.aborted) {
      let result: { ok: boolean; message: string };
      try {
        result = await runProbe(probe, this.t, this.runtime, this.nodeBinary);
      } catch (err) {
        result = { ok: false, message: (err as Error).message };
      }
      if (signal.aborted) return;
      if (result.ok) {
        successes++;
        failures = 0;
        if (kind === 'startup') {
          this.started = true;
          this.cb.onStarted();
          return;
        }
        if (kind === 'readiness' && successes >= successThreshold && ready !== true) {
          ready = true;
          this.cb.onReady(true);
        }
      } else {
        failures++;
        successes = 0;
        this.cb.onProbeFailed?.(kind, result.message);
        if (kind === 'readiness' && (ready === undefined || failures >= failureThreshold) && ready !== false) {
          ready = false;
          this.cb.onReady(false);
        }
        if (kind !== 'readiness' && failures >= failureThreshold) {
          this.cb.onUnhealthy(kind, `${kind === 'liveness' ? 'Liveness' : 'Startup'} probe failed: ${result.message}`);
          return;
        }
      }
      await sleep(period, { signal: signal });
    }
  }
}

