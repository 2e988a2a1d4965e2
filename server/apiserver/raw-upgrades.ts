/**
 * Hands the socket of a non-WebSocket upgrade (kubectl port-forward's `Upgrade: SPDY/3.1` fallback)
 * to the route that serves it. The upgrade listener (plain-upgrade.ts) offers the socket for the
 * Request it passes through the app — authentication, authorization and routing run as for any
 * request — and a handler that takes the socket owns it from then on; the listener then writes
 * nothing. Requests nobody claimed are answered plainly as before.
 */
import type { Duplex } from 'node:stream';

export interface RawUpgrade {
  /** The Upgrade header (a Request cannot carry it: it is a hop-by-hop header). */
  protocol: string;
  socket: Duplex;
  head: Buffer;
  claimed: boolean;
}

const offers = new WeakMap<Request, RawUpgrade>();

export function offerRawUpgrade(request: Request, protocol: string, socket: Duplex, head: Buffer): RawUpgrade {
  const offer = { protocol, socket, head, claimed: false };
  offers.set(request, offer);
  return offer;
}

/** The upgrade offered for this request, if any (still unclaimed). */
export function rawUpgradeOf(request: Request): RawUpgrade | undefined {
  const offer = offers.get(request);
  return offer && !offer.claimed ? offer : undefined;
}

/** Takes the upgrade's socket over: the upgrade listener will not touch it again. */
export function claimRawUpgrade(offer: RawUpgrade): RawUpgrade {
  offer.claimed = true;
  return offer;
}
