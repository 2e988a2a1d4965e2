/**
 * The kubelet endpoint's `POST /portForward/<namespace>/<pod>` (Upgrade: SPDY/3.1), which the API
 * server relays `kubectl port-forward` to: negotiates portforward.k8s.io as upstream's
 * httpstream.Handshake does, answers 101 and runs a PortForwardSession on the socket, dialling
 * inside the pod's network namespace.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { answerOnSocket } from '../../api/fault-containment.js';
import { log } from '../../api/log.js';
import { NetnsDialer } from './netns-dialer.js';
import { PORT_FORWARD_PROTOCOL, PortForwardSession } from './port-forward-session.js';

export interface PortForwardTarget {
  namespace: string;
  name: string;
  uid: string;
  netnsPath: string;
  nodeBinary: string;
}

/** The versions a client offers: repeated headers and comma lists alike. */
function offeredProtocols(req: IncomingMessage): string[] {
  const raw = req.headersDistinct['x-stream-protocol-version'] ?? [];
  return raw.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

/** Answers the upgrade; returns the session it started (undefined when it refused). */
export function acceptPortForward(req: IncomingMessage, socket: Duplex, head: Buffer, target: PortForwardTarget): PortForwardSession | undefined {
  if (req.headers.upgrade?.toLowerCase() !== 'spdy/3.1') {
    answerOnSocket(socket, 400, 'port-forward needs Upgrade: SPDY/3.1\n');
    return undefined;
  }
  const offered = offeredProtocols(req);
  if (offered.length > 0 && !offered.includes(PORT_FORWARD_PROTOCOL)) {
    answerOnSocket(socket, 403, `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(offered)}, server supports ["${PORT_FORWARD_PROTOCOL}"]\n`);
    return undefined;
  }
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${PORT_FORWARD_PROTOCOL}\r\n\r\n`);
  if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
  if (head.length > 0) socket.unshift(head);
  const pod = `${target.namespace}/${target.name}`;
  const session = new PortForwardSession(socket, {
    pod,
    openDialer: () => new NetnsDialer({ netnsPath: target.netnsPath, nodeBinary: target.nodeBinary }),
    // Upstream's words (kubelet around containerd's CRI port forward), which kubectl prints.
    describeFailure: (port, err) => `error forwarding port ${port} to pod ${target.uid}, uid : failed to execute portforward in network namespace "${target.netnsPath}": `
      + `failed to connect to localhost:${port} inside namespace "${target.uid}", ${err.message}`,
  });
  log.debug('portforward', 'tunnel open', { pod });
  void session.done.then(() => log.debug('portforward', 'tunnel closed', { pod }));
  return session;
}
