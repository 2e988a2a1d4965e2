/**
 * A tiny WebSocket echo for lab tests (run inside a lab host): `node ws-echo.js serve IP PORT` answers
 * every message with `echo:<message>:<X-Forwarded-Host>`; `node ws-echo.js send URL HOST MESSAGE`
 * connects with that Host header, sends one message, prints the reply and exits (1 on failure).
 */
import { createServer } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';

const [mode, a, b, c] = process.argv.slice(2);
if (mode === 'serve') {
  const server = createServer((_req, res) => res.end('websocket only\n'));
  new WebSocketServer({ server }).on('connection', (sock, req) => {
    sock.on('message', (data) => sock.send(`echo:${data.toString()}:${String(req.headers['x-forwarded-host'] ?? '')}`));
  });
  server.listen(Number(b), a);
} else if (mode === 'send') {
  const ws = new WebSocket(a!, { headers: { host: b! } });
  const timer = setTimeout(() => { process.stderr.write('timed out\n'); process.exit(1); }, 10_000);
  ws.on('open', () => ws.send(c ?? 'hello'));
  ws.on('message', (d) => {
    process.stdout.write(`${d.toString()}\n`);
    clearTimeout(timer);
    ws.close();
  });
  ws.on('unexpected-response', (_req, res) => { process.stderr.write(`HTTP ${res.statusCode}\n`); process.exit(1); });
  ws.on('error', (err) => { process.stderr.write(`${err.message}\n`); process.exit(1); });
} else {
  process.stderr.write('usage: ws-echo.js serve IP PORT | send URL HOST MESSAGE\n');
  process.exit(2);
}
