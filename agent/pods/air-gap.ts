/**
 * The image loop of the node: image tarballs dropped into the air-gap directory are imported into
 * containerd at start (before any pod starts) and then every 10 s, as one key of a kit controller so a
 * failing import is retried with the queue's back-off like any other reconcile.
 */
import { mkdir } from 'node:fs/promises';
import { Controller } from '../../api/machinery/controller.js';
import type { ImageManager } from './images.js';

const KEY = 'air-gap';
const RESCAN_MS = 10_000;

export async function startAirGapImports(images: ImageManager, dir: string, signal: AbortSignal): Promise<void> {
  await mkdir(dir, { recursive: true }).catch(() => undefined);
  await images.importAirGap(dir).catch(() => undefined);
  const controller = new Controller({
    name: 'air-gap-images',
    reconcile: async () => {
      await images.importAirGap(dir);
      return { requeueAfterMs: RESCAN_MS };
    },
  });
  controller.queue.addAfter(KEY, RESCAN_MS);
  void controller.run(signal);
}
