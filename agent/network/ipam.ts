/**
 * Pod IP allocation from the node's pod CIDR. One file per allocated address under
 * `<data-dir>/agent/ipam/` holding the pod UID, so allocations survive an agent restart and a leaked
 * address can be traced to its pod. Addresses are handed out in rotation (like host-local), so a
 * freshly freed address is not reused at once by another pod.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { podAddresses } from './cidr.js';

export class Ipam {
  private lastIndex = -1;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly dir: string, private podCidr: string) {}

  setCidr(podCidr: string): void {
    this.podCidr = podCidr;
  }

  /** The address held by this pod, or a new one. */
  allocate(podUid: string): Promise<string> {
    return this.serial(async () => {
      await mkdir(this.dir, { recursive: true });
      const held = await this.allocations();
      for (const [addr, uid] of held) if (uid === podUid) return addr;
      const all = podAddresses(this.podCidr);
      for (let step = 1; step <= all.length; step++) {
        const i = (this.lastIndex + step) % all.length;
        const addr = all[i]!;
        if (held.has(addr)) continue;
        await writeFile(join(this.dir, addr), podUid);
        this.lastIndex = i;
        return addr;
      }
      throw new Error(`no free pod address left in ${this.podCidr}`);
    });
  }

  /** Frees every address this pod holds. */
  release(podUid: string): Promise<void> {
    return this.serial(async () => {
      for (const [addr, uid] of await this.allocations()) {
        if (uid === podUid) await rm(join(this.dir, addr), { force: true });
      }
    });
  }

  /** address → pod UID */
  async allocations(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let names: string[] = [];
    try {
      names = await readdir(this.dir);
    } catch {
      return out;
    }
    for (const n of names) {
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(n)) continue;
      out.set(n, (await readFile(join(this.dir, n), 'utf8').catch(() => '')).trim());
    }
    return out;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }
}
