/**
 * Runs one httpGet or tcpSocket probe and exits 0 (success) or 1 (failure, reason on stderr). The
 * agent starts it inside the pod's network namespace (`nsenter --net=<netns> node probe-helper.js`),
 * so the probe reaches the pod exactly as a process in the pod would, whatever namespace the agent
 * itself runs in.
 *
 *   probe-helper.js http  HOST PORT PATH TIMEOUT_MS SCHEME [HEADER_JSON]
 *   probe-helper.js tcp   HOST PORT TIMEOUT_MS
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

const [mode, host = '', portText = '', ...rest] = process.argv.slice(2);
const port = Number(portText);

if (mode === 'tcp') {
  const timeoutMs = Number(rest[0] ?? 1000);
  const socket = connect({ host, port });
  const timer = setTimeout(() => fail(`dial tcp ${host}:${port}: i/o timeout`), timeoutMs);
  socket.once('connect', () => {
    clearTimeout(timer);
    socket.destroy();
    process.exit(0);
  });
  socket.once('error', (err) => fail(`dial tcp ${host}:${port}: ${err.message}`));
} else if (mode === 'http') {
  const [path = '/', timeoutText = '1000', scheme = 'HTTP', headerJson = '{}'] = rest;
  const timeoutMs = Number(timeoutText);
  const headers = { 'user-agent': 'kube-probe/1.32', accept: '*/*', ...(JSON.parse(headerJson) as Record<string, string>) };
  const req = (scheme === 'HTTPS' ? httpsRequest : httpRequest)({ host, port, path, method: 'GET', headers, rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
    const code = res.statusCode ?? 0;
    res.resume();
    if (code >= 200 && code < 400) process.exit(0);
    fail(`HTTP probe failed with statuscode: ${code}`);
  });
  req.on('timeout', () => {
    req.destroy();
    fail(`Get "${scheme.toLowerCase()}://${host}:${port}${path}": context deadline exceeded`);
  });
  req.on('error', (err) => fail(`Get "${scheme.toLowerCase()}://${host}:${port}${path}": ${err.message}`));
  req.end();
} else {
  fail('usage: probe-helper.js http HOST PORT PATH TIMEOUT_MS SCHEME [HEADERS] | tcp HOST PORT TIMEOUT_MS');
}
