/**
 * WebSocket upgrades for exec and attach, with the `ws` library loaded at the first one: most agents never
 * serve one, and in the agent bundle the library is then a part that stays on disk
 * (installer/bundle-parts.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { answerOnSocket } from '../../api/fault-containment.js';
import { log } from '../../api/log.js';

export class WebSocketUpgrades {
  private wss: Promise<WebSocketServer> | undefined;

  /** `protocol`: the one subprotocol accepted when the client offers it. */
  constructor(private readonly protocol: string) {}

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, session: (ws: WebSocket) => void): void {
    this.wss ??= import('ws').then(({ WebSocketServer }) => new WebSocketServer({ noServer: true, handleProtocols: (offered) => (offered.has(this.protocol) ? this.protocol : false) }));
    this.wss.then((wss) => {
      if (!socket.destroyed) wss.handleUpgrade(req, socket, head, session);
    }).catch((err: unknown) => {
      // The library did not load, or the upgrade threw: this request fails, the agent stays up.
      log.error('kubelet', 'WebSocket upgrade failed', { error: (err as Error).message });
      answerOnSocket(socket, 500, 'internal error in the WebSocket upgrade\n');
    });
  }

  close(): void {
    void this.wss?.then((wss) => wss.close(), () => undefined);
  }
}
