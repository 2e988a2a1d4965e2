/**
 * Runs inside a pod's network namespace (`nsenter --net=<netns> node netns-dialer-helper.js`, started
 * by netns-dialer.ts with an IPC channel) and only connects: for each `{ id, port }` it dials
 * localhost:port there — IPv4 first, then IPv6, as the container runtimes do — and hands the
 * connected socket back over the channel (SCM_RIGHTS), so the agent moves the bytes itself and this
 * process never sees them. It exits when the agent closes the channel or goes away.
 */
import { Socket } from 'node:net';

export interface DialRequest { id: number; port: number }
export type DialReply = { id: number; ok: true } | { id: number; ok: false; error: string };

const DIAL_TIMEOUT_MS = 10_000;

/** Go's wording for the errors a dial meets, as the runtimes report them. */
const GO_ERRNO: Record<string, string> = {
  ECONNREFUSED: 'connect: connection refused',
  ENETUNREACH: 'connect: network is unreachable',
  EHOSTUNREACH: 'connect: no route to host',
  EADDRNOTAVAIL: 'connect: cannot assign requested address',
  EAFNOSUPPORT: 'socket: address family not supported by protocol',
  ETIMEDOUT: 'i/o timeout',
};

function dialOne(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = new Socket();
    // Paused from the start: nothing the pod sends first (a banner) is read here and lost.
    s.pause();
    const timer = setTimeout(() => s.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })), DIAL_TIMEOUT_MS);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const net = host.includes(':') ? 'tcp6' : 'tcp4';
      const addr = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      reject(new Error(`dial ${net} ${addr}: ${GO_ERRNO[err.code ?? ''] ?? err.message}`));
    });
    s.connect({ host, port });
  });
}

async function dial(req: DialRequest): Promise<void> {
  let socket: Socket;
  try {
    socket = await dialOne('127.0.0.1', req.port);
  } catch (v4) {
    try {
      socket = await dialOne('::1', req.port);
    } catch (v6) {
      process.send!({ id: req.id, ok: false, error: `IPv4: ${(v4 as Error).message} IPv6 ${(v6 as Error).message} ` } satisfies DialReply);
      return;
    }
  }
  process.send!({ id: req.id, ok: true } satisfies DialReply, socket, { keepOpen: false }, () => socket.destroy());
}

if (!process.send) {
  process.stderr.write('netns-dialer-helper must be started with an IPC channel\n');
  process.exit(2);
}
process.on('message', (msg: DialRequest) => {
  if (!Number.isInteger(msg?.id) || !Number.isInteger(msg?.port) || msg.port < 1 || msg.port > 65535) return;
  void dial(msg);
});
process.on('disconnect', () => process.exit(0));
