/**
 * Cluster-wide claims on ClusterIPs and NodePorts for several API servers sharing one store (etcd).
 * Each server keeps its own bitmaps (service-allocator.ts); before a Service write that took a value
 * is admitted, the value is claimed here with a create-if-absent key, so two servers can never hand
 * out the same value: the store decides, and the loser picks another (or refuses an explicit request).
 * The claim names its Service (`namespace/name`), so a Service re-claiming what it holds succeeds.
 * Released values delete their claim, and every server follows the claims (`follow`), so its bitmaps
 * learn what the others took and gave back. A server that dies between its claim and its write leaves the
 * claim behind: the value stays out of use (never handed out twice) until an operator deletes the key.
 */
import { StoreError, type Store } from '../../store/store.js';
import { log } from '../../../api/log.js';
import { sleep } from '../../../api/async-util.js';

export type ClaimKind = 'ip' | 'port';

export const CLAIMS_PREFIX = '/registry/corral.dev/serviceallocations/';

export class ClusterReservations {
  constructor(private readonly store: Store) {}

  private key(kind: ClaimKind, value: string | number): string {
    return `${CLAIMS_PREFIX}${kind}/${value}`;
  }

  /** True when `owner` holds the value now (newly claimed, or already its own). */
  async claim(kind: ClaimKind, value: string | number, owner: string): Promise<boolean> {
    try {
      await this.store.create(this.key(kind, value), owner);
      return true;
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'KeyExists')) throw err;
      const current = await this.store.get(this.key(kind, value));
      return current?.value === owner;
    }
  }

  /**
   * Calls back for every claim made or given back by any server from now on, until `signal` aborts
   * (the watch is reopened from the last revision seen if it ends).
   */
  async follow(on: { claimed(kind: ClaimKind, value: string): void; released(kind: ClaimKind, value: string): void }, signal: AbortSignal): Promise<void> {
    let since = this.store.currentRevision(CLAIMS_PREFIX);
    while (!signal.aborted) {
      try {
        for await (const ev of this.store.watch(CLAIMS_PREFIX, { sinceRevision: since, signal })) {
          since = ev.kv.modRevision;
          const [kind, value] = ev.kv.key.slice(CLAIMS_PREFIX.length).split('/') as [ClaimKind, string];
          if (ev.type === 'delete') on.released(kind, value);
          else on.claimed(kind, value);
        }
      } catch (err) {
        if (signal.aborted) return;
        log.warn('allocator', 'following cluster-wide claims failed, resuming', { error: (err as Error).message });
        if (err instanceof StoreError && err.code === 'Compacted') since = this.store.currentRevision(CLAIMS_PREFIX);
        await sleep(1_000, { signal }).catch(() => undefined);
      }
    }
  }

  /** Gives a value back (a failed write, a deleted Service, a value an update dropped). */
  release(kind: ClaimKind, value: string | number): void {
    this.store.delete(this.key(kind, value), 0).catch((err: unknown) => {
      if (err instanceof StoreError && err.code === 'KeyNotFound') return;
      log.warn('allocator', 'cannot release a cluster-wide claim', { kind, value, error: (err as Error).message });
    });
  }
}
