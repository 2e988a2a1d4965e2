/**
 * Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it, so that
 * of several servers exactly one runs the controllers, the scheduler and the allocating loops:
 *
 * - A candidate takes the Lease when nobody holds it, or when the record it last saw has not changed
 *   for `leaseDurationSeconds` by ITS OWN clock (the holder's renewTime is never compared with the
 *   local clock, so clock skew between machines cannot make two leaders). Every take-over and renewal
 *   is an update guarded by the Lease's resourceVersion: of two candidates, one write wins.
 * - The leader renews every `retryPeriod`. When it cannot renew for `renewDeadline` (shorter than the
 *   lease duration) it stops leading at once: `onStoppedLeading` aborts everything it started, before
 *   any other candidate may take over. Then it goes back to campaigning.
 */
import type { ApiClient } from '../client/client.js';
import { log } from '../log.js';
import { microTime } from '../meta.js';
import { isConflict, isNotFound, isAlreadyExists } from '../status.js';
import type { Lease } from '../types.js';
import { sleep } from '../async-util.js';

export interface LeaderElectionOptions {
  client: ApiClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Called when this candidate becomes leader; the signal aborts when it stops leading. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  onStoppedLeading?(): void;
  onNewLeader?(identity: string): void;
  signal: AbortSignal;
}

export class LeaderElector {
  private observed: { holder: string; renewTime: string; resourceVersion: string } | undefined;
  /** performance.now() when the observed record last changed. */
  private observedAt = 0;
  private leading: AbortController | undefined;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;

  constructor(private readonly o: LeaderElectionOptions) {
    this.leaseMs = (o.leaseDurationSeconds ?? 15) * 1000;
    this.renewDeadlineMs = o.renewDeadlineMs ?? 10_000;
    this.retryMs = o.retryPeriodMs ?? 2_000;
    if (this.renewDeadlineMs >= this.leaseMs) throw new Error('the renew deadline must be shorter than the lease duration');
  }

  get isLeader(): boolean {
    return this.leading !== undefined;
  }

  /** Campaigns, leads, and campaigns again after losing, until the signal aborts. */
  async run(): Promise<void> {
    while (!this.o.signal.aborted) {
      if (await this.tryAcquireOrRenew()) {
        await this.lead();
      } else {
        await sleep(this.retryMs * (0.9 + Math.random() * 0.2), { signal: this.o.signal }).catch(() => undefined);
      }
    }
    this.stopLeading();
  }

  private async lead(): Promise<void> {
    const leading = new AbortController();
    this.leading = leading;
    log.info('leader-election', 'became leader', { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity });
    try {
      await this.o.onStartedLeading(leading.signal);
    } catch (err) {
      log.error('leader-election', 'starting as leader failed', { error: (err as Error).message });
    }
    let lastRenew = performance.now();
    while (!this.o.signal.aborted) {
      await sleep(this.retryMs, { signal: this.o.signal }).catch(() => undefined);
      if (this.o.signal.aborted) break;
      if (await this.tryAcquireOrRenew()) {
        lastRenew = performance.now();
        continue;
      }
      if (this.observed && this.observed.holder !== this.o.identity) break; // someone else holds it now
      if (performance.now() - lastRenew >= this.renewDeadlineMs) break;
    }
    this.stopLeading();
  }

  private stopLeading(): void {
    const leading = this.leading;
    if (!leading) return;
    this.leading = undefined;
    leading.abort();
    log.warn('leader-election', 'stopped leading', { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity });
    this.o.onStoppedLeading?.();
  }

  private observe(lease: Lease): void {
    const record = { holder: lease.spec?.holderIdentity ?? '', renewTime: lease.spec?.renewTime ?? '', resourceVersion: lease.metadata.resourceVersion ?? '' };
    if (!this.observed || this.observed.holder !== record.holder || this.observed.renewTime !== record.renewTime) {
      if (record.holder !== this.observed?.holder && record.holder) this.o.onNewLeader?.(record.holder);
      this.observedAt = performance.now();
    }
    this.observed = record;
  }

  /** One attempt: create, renew or take over the Lease. True when this candidate holds it afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = microTime();
    const mine = { holderIdentity: this.o.identity, leaseDurationSeconds: this.leaseMs / 1000, renewTime: now };
    let lease: Lease;
    try {
      lease = await this.o.client.get<Lease>('Lease', this.o.namespace, this.o.name);
    } catch (err) {
      if (!isNotFound(err)) return this.failed(err);
      try {
        const created = await this.o.client.create<Lease>('Lease', this.o.namespace, {
          apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: { ...mine, acquireTime: now, leaseTransitions: 0 },
        });
        this.observe(created);
        return true;
      } catch (createErr) {
        return isAlreadyExists(createErr) ? false : this.failed(createErr);
      }
    }
    this.observe(lease);
    const holder = lease.spec?.holderIdentity ?? '';
    const held = holder !== '' && holder !== this.o.identity;
    if (held && performance.now() - this.observedAt < this.leaseMs) return false;
    const takeOver = holder !== this.o.identity;
    const spec = {
      ...lease.spec,
      ...mine,
      ...(takeOver ? { acquireTime: now, leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + (holder ? 1 : 0) } : {}),
    };
    try {
      const updated = await this.o.client.update<Lease>('Lease', { ...lease, spec });
      this.observe(updated);
      return true;
    } catch (err) {
      return isConflict(err) ? false : this.failed(err);
    }
  }

  private failed(err: unknown): false {
    log.warn('leader-election', 'cannot reach the Lease', { lease: `${this.o.namespace}/${this.o.name}`, error: (err as Error).message });
    return false;
  }
}
